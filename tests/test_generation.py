"""What `cookiecutter --no-input` writes: the layout of the design, fully rendered, every file well-formed."""

import fnmatch
import json
import re
import subprocess
import tomllib

import yaml

from .baking import TEMPLATE

UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%|%\}|\{#")

EXPECTED_FILES = {
    "manage.py",
    "pyproject.toml",
    "README.md",
    "Makefile",
    "LICENSE",
    ".env",
    ".env.example",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".github/workflows/ci.yml",
    "scripts/init_env.py",
    "config/__init__.py",
    "config/settings.py",
    "config/urls.py",
    "config/wsgi.py",
    "config/asgi.py",
    "apps/__init__.py",
    "apps/core/__init__.py",
    "apps/core/apps.py",
    "apps/core/models.py",
    "apps/core/admin.py",
    "apps/core/current_user.py",
    "apps/core/middleware.py",
    "apps/core/audit/__init__.py",
    "apps/core/softdelete/__init__.py",
    "apps/core/tasks/__init__.py",
    "apps/core/tasks/worker/__init__.py",
    "apps/core/tests/audit/__init__.py",
    "apps/core/tests/softdelete/__init__.py",
    "apps/core/tests/tasks/__init__.py",
    "apps/core/migrations/0001_initial.py",
    "apps/core/tests/__init__.py",
    "apps/accounts/__init__.py",
    "apps/accounts/apps.py",
    "apps/accounts/models.py",
    "apps/accounts/admin.py",
    "apps/accounts/migrations/0001_initial.py",
    "apps/accounts/tests/__init__.py",
}


def relative_files(project):
    return {str(path.relative_to(project.path)) for path in project.files()}


def test_the_tree_holds_the_designed_layout(default_project):
    missing = EXPECTED_FILES - relative_files(default_project)
    assert not missing, f"missing from the baked project: {sorted(missing)}"


def test_the_project_folder_is_named_after_the_slug(default_project):
    assert default_project.path.name == "my_service"


def rendered_files(project):
    """The files cookiecutter renders: those it copies as they are (`_copy_without_render` in cookiecutter.json,
    such as Django's own templates) hold another template language's tags on purpose."""
    patterns = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))["_copy_without_render"]
    return [
        path
        for path in project.files()
        if not any(fnmatch.fnmatch(str(path.relative_to(project.path)), pattern) for pattern in patterns)
    ]


def test_no_template_syntax_is_left_unrendered(default_project):
    leftovers = [
        f"{path.relative_to(default_project.path)}: {match.group(0)!r}"
        for path in rendered_files(default_project)
        for match in [UNRENDERED.search(path.read_text(encoding="utf-8"))]
        if match
    ]
    assert not leftovers, leftovers


def test_github_expressions_survive_rendering(default_project):
    workflow = default_project.text(".github/workflows/ci.yml")
    assert "${{ matrix.database_url }}" in workflow
    assert "${{ matrix.database }}" in workflow


def test_every_python_file_compiles(default_project):
    for path in default_project.files():
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_yaml_and_toml_files_parse(default_project):
    for path in default_project.files():
        if path.suffix in (".yml", ".yaml"):
            assert yaml.safe_load(path.read_text(encoding="utf-8")), path
        if path.suffix == ".toml":
            assert tomllib.loads(path.read_text(encoding="utf-8")), path


def test_the_answers_reach_the_project(default_project):
    pyproject = tomllib.loads(default_project.text("pyproject.toml"))["project"]
    assert pyproject["name"] == "my_service"
    assert pyproject["description"] == "A Django service."
    assert pyproject["authors"] == [{"name": "Your Name", "email": "you@example.com"}]
    assert default_project.text("README.md").startswith("# My Service\n")
    assert 'TIME_ZONE = env("TIME_ZONE", default="UTC")' in default_project.text("config/settings.py")


def assignments(text):
    """NAME=value lines of a dotenv file (comments left out)."""
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_a_local_env_file_is_written_with_a_secret_and_debug_off(default_project):
    """DEBUG is never written on: `make run` turns it on for the development server only (issue 12)."""
    values = assignments(default_project.text(".env"))
    assert len(values["SECRET_KEY"]) >= 50
    assert values["DEBUG"] == "False"
    assert values.keys() == assignments(default_project.text(".env.example")).keys()


def test_each_bake_gets_its_own_secret(cookies_session):
    keys = {
        assignments((cookies_session.bake().project_path / ".env").read_text(encoding="utf-8"))["SECRET_KEY"]
        for _ in range(2)
    }
    assert len(keys) == 2


def test_the_env_file_is_ignored_by_git(default_project, tmp_path):
    subprocess.run(["git", "init", "--quiet", tmp_path], check=True)
    (tmp_path / ".gitignore").write_text(default_project.text(".gitignore"))
    (tmp_path / ".env").write_text("SECRET_KEY=x\n")
    assert subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=tmp_path, check=False).returncode == 0


def test_the_readmes_python_examples_are_valid_python(default_project):
    """The baked README's examples are fragments (they use names from around them), but each one parses."""
    blocks = re.findall(r"```python\n(.*?)```", default_project.text("README.md"), flags=re.DOTALL)
    assert len(blocks) >= 8
    for block in blocks:
        compile(block, "README.md", "exec")
