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

from .baking import TEMPLATE, shell_environment

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


# The last template commit before apps/core moved into its three rooms (audit/, softdelete/, tasks/).
BEFORE_THE_HOUSE = "e32e392de7dbb2c3df5ab875f2b7c11ed1d78b28"

# A team's own app, written against every public path of apps/core as the template before the move offered them.
BILLING_INGESTORS = """
from apps.core.ingestors import ingestor

PROCESSED = []


@ingestor("invoices")
def import_invoices(task):
    PROCESSED.append(task.name)
"""

BILLING_TEST = """
import pytest
from django.core.management import call_command

from apps.accounts.models import TrackableModel as AccountsTrackableModel
from apps.core.admin_mixins import TimestampedAdminMixin, TrackableAdminMixin
from apps.core.current_user import acting_as, get_current_user
from apps.core.fields import DeletionDateField, HistoryField
from apps.core.ingestors import ingestor, registered_ingestors
from apps.core.middleware import CurrentUserMiddleware
from apps.core.models import InvalidTransition, Task, TimestampedModel, TrackableModel
from apps.core.querysets import AliveManager, TrackableManager

from .. import ingestors
from ..models import Invoice

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_public_path_still_imports():
    assert AccountsTrackableModel is TrackableModel
    assert issubclass(Invoice, TimestampedModel)
    assert callable(CurrentUserMiddleware) and callable(ingestor) and get_current_user() is None
    assert all((TrackableAdminMixin, TimestampedAdminMixin, HistoryField, DeletionDateField))
    assert all((AliveManager, TrackableManager))
    assert issubclass(InvalidTransition, Exception)


def test_the_audit_trail_and_soft_delete_work_on_the_teams_model(django_user_model):
    user = django_user_model.objects.create(**{django_user_model.USERNAME_FIELD: "alice@example.com"})
    with acting_as(user):
        invoice = Invoice.objects.create(title="first")
        invoice.title = "second"
        invoice.save()
    invoice.delete()
    assert [entry["action"] for entry in Invoice.all_objects.get(pk=invoice.pk).history] == [
        "create", "update", "delete"
    ]
    assert invoice.history[1]["by"] == user.pk
    assert not Invoice.objects.exists()


def test_the_teams_ingestor_is_registered_and_run_by_the_worker():
    assert registered_ingestors()["invoices"].function is ingestors.import_invoices
    Task.objects.create(name="march", task_ingestor="invoices")
    call_command("run_tasks", "--ingestor", "invoices", "--burst", verbosity=0)
    assert ingestors.PROCESSED == ["march"]
    assert not Task.objects.exists()
"""


@pytest.fixture(scope="module")
def moved_house(tmp_path_factory):
    """A project baked (with cruft) from the template before the move, with an app of the team's own that imports
    every public path and registers an ingestor, then updated to this template."""
    root = tmp_path_factory.mktemp("house")
    template = root / "template"
    template.mkdir()
    if subprocess.run(
        ["git", "cat-file", "-e", f"{BEFORE_THE_HOUSE}^{{commit}}"], cwd=TEMPLATE, check=False
    ).returncode:
        pytest.fail(f"This test needs the template's git history back to {BEFORE_THE_HOUSE} (a full clone).")
    archive = subprocess.run(["git", "archive", BEFORE_THE_HOUSE], cwd=TEMPLATE, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(template)], input=archive.stdout, check=True)
    git(template, "init", "--quiet", "--initial-branch", "main")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "before the move")

    projects = root / "projects"
    projects.mkdir()
    subprocess.run([CRUFT, "create", str(template), "--no-input"], cwd=projects, check=True, capture_output=True)
    project = projects / "my_service"
    make = subprocess.run(
        ["make", "app", "name=billing", "model=Invoice"],
        cwd=project,
        env=shell_environment(UV_PYTHON_DOWNLOADS="never"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert make.returncode == 0, make.stdout + make.stderr
    (project / "apps" / "billing" / "ingestors.py").write_text(BILLING_INGESTORS.lstrip())
    (project / "apps" / "billing" / "tests" / "test_public_paths.py").write_text(BILLING_TEST.lstrip())
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Baked with cruft, then our billing app")

    # Template commit B: the template as it is now.
    for path in template.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(
        TEMPLATE,
        template,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".git", ".venv", "out", "__pycache__", ".*_cache", "*.sqlite3"),
    )
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "the house moved")
    done = subprocess.run(
        [CRUFT, "update", "--skip-apply-ask"], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(project.rglob("*.rej")), "the update did not apply cleanly"
    return project


def test_a_project_from_before_the_move_updates_and_keeps_working(moved_house):
    """The team's app, untouched, passes alongside the updated apps/core: same import paths, and no migration from
    the move. The one migration the update asks of the team is the history's index for their own audited model (the
    README's "Who changed what"), which `makemigrations` writes for them."""
    project = moved_house
    assert (project / "apps" / "core" / "audit").is_dir()
    assert not (project / "apps" / "core" / "worker.py").exists()
    env = shell_environment(UV_PYTHON_DOWNLOADS="never")
    manage = [".venv/bin/python", "manage.py"]
    pytest_command = [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    outputs = []
    for command in (
        ["make", "install"],
        [*manage, "makemigrations", "--check", "--dry-run", "core", "accounts"],
        [*manage, "makemigrations", "billing"],
        [*manage, "makemigrations", "--check", "--dry-run"],
        [*pytest_command, "apps/billing/tests/test_public_paths.py"],
        [*pytest_command, "-n", "2"],
    ):
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        outputs.append(done.stdout)
    billing_migration = outputs[2]
    assert billing_migration.count("Create index") == 1, billing_migration
    assert "field" not in billing_migration.replace("on field(s) history", ""), billing_migration
    assert "3 passed" in outputs[4]
