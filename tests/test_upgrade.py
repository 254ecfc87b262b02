"""The upgrade path the README documents: a project baked with cruft takes in later template changes.

The test makes its own template history: a git copy of this template (commit A), a project baked from it with cruft
and committed, a change of the project's own, then a template change (commit B) and `cruft update`.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .baking import TEMPLATE

CRUFT = Path(sys.executable).with_name("cruft")
PROJECT_DIR = "{{cookiecutter.project_slug}}"
GIT_IDENTITY = ["-c", "user.name=Template Test", "-c", "user.email=test@example.com"]


def git(folder, *args):
    return subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=folder, check=True, capture_output=True, text=True
    ).stdout.strip()


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    root = tmp_path_factory.mktemp("upgrade")
    template = root / "template"
    shutil.copytree(
        TEMPLATE,
        template,
        ignore=shutil.ignore_patterns(".git", ".venv", "out", "__pycache__", ".*_cache", "*.sqlite3"),
    )
    git(template, "init", "--quiet", "--initial-branch", "main")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "A")
    commit_a = git(template, "rev-parse", "HEAD")
    assert commit_a

    projects = root / "projects"
    projects.mkdir()
    subprocess.run([CRUFT, "create", str(template), "--no-input"], cwd=projects, check=True, capture_output=True)
    project = projects / "my_service"
    (project / ".env").write_text((project / ".env").read_text() + "LOG_LEVEL=debug\n")
    env_before = (project / ".env").read_bytes()
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Baked with cruft")
    # The team's own change, in two files the template also changes (elsewhere in them).
    edit(project / "README.md", "\nA Django service.\n", "\nA Django service for invoices (our words).\n")
    edit(project / "config" / "settings.py", "\nDEBUG = ", '\nINVOICE_PREFIX = "INV"\n\nDEBUG = ')
    git(project, "commit", "--quiet", "--all", "-m", "Our own change")

    # Template commit B: a new file, an appended README section, a settings change.
    baked = template / PROJECT_DIR
    (baked / "CHANGES.md").write_text("# Changes\n\n- B: a new file from the template.\n")
    with (baked / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\n## Added by template B\n\nText that arrives with the update.\n")
    edit(baked / "config" / "settings.py", "\nUSE_TZ = True\n", "\nUSE_TZ = True\nUSE_THOUSAND_SEPARATOR = False\n")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "B")
    commit_b = git(template, "rev-parse", "HEAD")

    done = subprocess.run(
        [CRUFT, "update", "--skip-apply-ask"], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project, commit_a, commit_b, env_before


def test_the_project_remembers_the_template_commit_it_came_from(upgraded):
    project, _commit_a, commit_b, _env = upgraded
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit_b


def test_the_template_changes_arrive(upgraded):
    project, *_ = upgraded
    assert (project / "CHANGES.md").read_text().startswith("# Changes")
    assert "## Added by template B" in (project / "README.md").read_text()
    assert "\nUSE_THOUSAND_SEPARATOR = False\n" in (project / "config" / "settings.py").read_text()


def test_the_projects_own_changes_survive(upgraded):
    project, *_ = upgraded
    assert "A Django service for invoices (our words)." in (project / "README.md").read_text()
    assert '\nINVOICE_PREFIX = "INV"\n' in (project / "config" / "settings.py").read_text()


def test_the_local_env_file_is_kept(upgraded):
    project, *_rest, env_before = upgraded
    assert (project / ".env").read_bytes() == env_before


def test_the_update_is_left_for_review_and_applies_cleanly(upgraded):
    """cruft applies the template's diff to the working tree (no conflict markers) and commits nothing."""
    project, *_ = upgraded
    status = git(project, "status", "--porcelain")
    assert "README.md" in status
    assert "CHANGES.md" in status
    assert git(project, "log", "-1", "--format=%s") == "Our own change"
    for path in ("README.md", "config/settings.py"):
        assert "<<<<<<<" not in (project / path).read_text()
    assert not list(project.rglob("*.rej"))
