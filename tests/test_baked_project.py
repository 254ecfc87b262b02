"""The default project passes, as baked, every check its own CI runs: on SQLite and on PostgreSQL, on each
supported Django version."""

import pytest

from .baking import PRODUCTION, StepFailed, git_repository_of


def test_ruff_lint_and_format_are_clean(bakery, supported_project):
    bakery.step(supported_project, "ruff")


def test_mypy_is_clean(bakery, supported_project):
    done = bakery.step(supported_project, "mypy")
    assert "Success: no issues found" in done.stdout


def test_import_contracts_are_kept(bakery, supported_project):
    done = bakery.step(supported_project, "lint-imports")
    assert "0 broken" in done.stdout


def test_django_system_checks_pass(bakery, supported_project, database_url):
    bakery.step(supported_project, "check", database_url)


def test_committed_migrations_match_the_models(bakery, supported_project, database_url):
    bakery.step(supported_project, "makemigrations", database_url)


def test_migrate_runs_on_a_fresh_database(bakery, supported_project, database_url):
    done = bakery.step(supported_project, "migrate", database_url)
    assert "Applying accounts.0001_initial... OK" in done.stdout
    assert "Applying core.0001_initial... OK" in done.stdout


def test_deploy_checks_report_nothing_with_production_settings(bakery, supported_project, database_url):
    done = bakery.step(supported_project, "check --deploy", database_url)
    assert "no issues" in done.stdout


def test_the_projects_own_test_suite_passes(bakery, supported_project, database_url):
    done = bakery.step(supported_project, "pytest", database_url)
    assert " passed" in done.stdout
    assert " skipped" not in done.stdout
    assert " failed" not in done.stdout


def test_pre_commit_passes_on_a_fresh_repository(bakery, supported_project, tmp_path):
    repository = git_repository_of(bakery.installed(supported_project), tmp_path / "repo")
    (repository / ".venv").symlink_to(supported_project.venv)  # mypy and lint-imports run from it, as after make
    done = supported_project.run("pre-commit", "run", "--all-files", "--show-diff-on-failure", cwd=repository)
    hooks = ("ruff check", "ruff format", "mypy", "import contracts (lint-imports)", "django-upgrade", "check yaml")
    for hook in (*hooks, "check toml", "fix end of files"):
        assert f"{hook}." in done.stdout, f"hook {hook!r} did not run:\n{done.stdout}"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "ADMIN_URL"])
def test_production_start_up_names_a_missing_variable(bakery, default_project, missing):
    env = {**PRODUCTION, missing: ""}
    with pytest.raises(StepFailed, match=rf"Set the {missing} environment variable"):
        bakery.installed(default_project).manage("check", env=env)


def test_debug_is_off_when_unset(bakery, default_project, tmp_path):
    """A checkout without .env and with no DEBUG in the environment is in production mode: it wants a SECRET_KEY."""
    checkout = git_repository_of(bakery.installed(default_project), tmp_path / "checkout")
    (checkout / ".env").unlink()
    with pytest.raises(StepFailed, match="Set the SECRET_KEY environment variable"):
        default_project.run("python", "manage.py", "check", cwd=checkout)
    done = default_project.run(
        "python",
        "manage.py",
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        env={key: value for key, value in PRODUCTION.items() if key != "DEBUG"},
        cwd=checkout,
    )
    assert done.stdout.splitlines()[-1] == "False"
