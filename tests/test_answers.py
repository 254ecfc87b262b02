"""Careless and hostile free-text answers bake a correct project that shows the text intact."""

import ast
import tomllib

import pytest
import yaml

HOSTILE = {
    "project_name": 'Zoë\'s "Quoted" \\ Back & <Tag> 🚀',
    "description": "Ça marche: 'single', \"double\", back\\slash, a & b, <script>alert(1)</script> ✓",
    "author_name": 'O\'Brien "The" \\ Ünïcødé 🦄 <&>',
}


@pytest.fixture(scope="module")
def hostile_project(bakery):
    return bakery.bake(**HOSTILE)


def assigned_literal(source, name):
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned a literal")


def test_the_slug_is_derived_to_a_safe_identifier(hostile_project):
    assert hostile_project.path.name == "zoe_s_quoted_back_tag"


def test_every_python_toml_and_yaml_file_is_valid(hostile_project):
    for path in hostile_project.files():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in (".yml", ".yaml"):
            yaml.safe_load(text)


def test_the_text_appears_intact_where_it_is_shown(hostile_project):
    assert hostile_project.text("README.md").startswith(f"# {HOSTILE['project_name']}\n\n{HOSTILE['description']}\n")
    settings = hostile_project.text("config/settings.py")
    assert assigned_literal(settings, "PROJECT_NAME") == HOSTILE["project_name"]
    metadata = tomllib.loads(hostile_project.text("pyproject.toml"))["project"]
    assert metadata["description"] == HOSTILE["description"]
    assert metadata["authors"][0]["name"] == HOSTILE["author_name"]
    assert HOSTILE["author_name"] in hostile_project.text("LICENSE")


def test_the_project_is_lint_clean(bakery, hostile_project):
    bakery.step(hostile_project, "ruff")


def test_the_admin_header_shows_the_name_and_the_suite_passes(bakery, hostile_project, database_url):
    """The baked suite asserts the (escaped) project name in the admin's header."""
    bakery.step(hostile_project, "check", database_url)
    bakery.step(hostile_project, "pytest", database_url)
