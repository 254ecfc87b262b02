"""Every combination of the options bakes a correct project; each distinct project passes the full checks."""

import datetime
import itertools
import tomllib

import pytest
import yaml

from .test_generation import UNRENDERED, rendered_files

USERNAME_TYPES = ["username", "email"]
LICENSES = ["MIT", "BSD-3-Clause", "Apache-2.0", "Not open source"]
CI_TOOLS = ["github", "gitlab", "none"]
DJANGO_VERSIONS = ["6.1", "5.2"]
COMBINATIONS = [
    {"username_type": username, "open_source_license": licence, "ci_tool": ci, "django_version": django}
    for username, licence, ci, django in itertools.product(USERNAME_TYPES, LICENSES, CI_TOOLS, DJANGO_VERSIONS)
]
IDS = ["-".join(combination.values()).replace(" ", "_") for combination in COMBINATIONS]
CI_FILES = {"github": ".github/workflows/ci.yml", "gitlab": ".gitlab-ci.yml"}
LICENSE_FIRST_LINES = {
    "MIT": "MIT License",
    "BSD-3-Clause": "BSD 3-Clause License",
    "Apache-2.0": "Apache License",
}
DJANGO_CHECKS = ["check", "makemigrations", "migrate", "pytest"]


@pytest.fixture(params=COMBINATIONS, ids=IDS)
def combination(request, bakery):
    return request.param, bakery.bake(**request.param)


def test_every_combination_bakes_only_its_own_files(combination):
    answers, project = combination
    files = {str(path.relative_to(project.path)) for path in project.files()}
    for tool, ci_file in CI_FILES.items():
        assert (ci_file in files) == (answers["ci_tool"] == tool), ci_file
    assert not any(name.startswith(".github") for name in files) or answers["ci_tool"] == "github"
    assert ("LICENSE" in files) == (answers["open_source_license"] != "Not open source")
    assert ("apps/accounts/managers.py" in files) == (answers["username_type"] == "email")
    for path in rendered_files(project):
        assert not UNRENDERED.search(path.read_text(encoding="utf-8")), path


def test_the_licence_and_its_metadata_match_the_choice(combination):
    answers, project = combination
    licence = answers["open_source_license"]
    metadata = tomllib.loads(project.text("pyproject.toml"))["project"]
    if licence == "Not open source":
        assert "license" not in metadata
        assert "Private :: Do Not Upload" in metadata["classifiers"]
        return
    text = project.text("LICENSE")
    assert text.lstrip().splitlines()[0].strip() == LICENSE_FIRST_LINES[licence]
    assert "Your Name" in text
    assert f"{datetime.datetime.now(datetime.UTC).year}" in text
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert metadata["license"] == licence
    assert metadata["license-files"] == ["LICENSE"]


@pytest.mark.parametrize("ci_tool", ["github", "gitlab"])
def test_the_pipeline_runs_the_tests_on_sqlite_and_postgresql(bakery, ci_tool):
    project = bakery.bake(ci_tool=ci_tool)
    text = project.text(CI_FILES[ci_tool])
    assert yaml.safe_load(text)
    assert "make test" in text
    assert "make lint" in text
    assert text.count("postgres://") == 1
    assert "sqlite" in text if ci_tool == "github" else "test-sqlite:" in text


def test_the_migration_matches_the_sign_in_choice(combination):
    answers, project = combination
    migration = project.text("apps/accounts/migrations/0001_initial.py")
    if answers["username_type"] == "email":
        assert '"email", models.EmailField(max_length=254, unique=True' in migration
        assert '"username"' not in migration
    else:
        assert '"username",' in migration


def test_every_combination_is_lint_clean(bakery, combination):
    _answers, project = combination
    bakery.step(project, "ruff")


@pytest.mark.parametrize("check", DJANGO_CHECKS)
def test_every_combination_passes_the_django_checks_and_its_own_tests(bakery, combination, check, database_url):
    _answers, project = combination
    bakery.step(project, check, database_url)
