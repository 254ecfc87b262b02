"""Run Django's own tests, label by label, in a baked project's virtualenv, and read what each test did.

Each label runs in its own `runtests.py` process (its own wall time, and one label's crash cannot hide another's
results), with `--parallel 1` (the parallel runner needs tblib to carry tracebacks, which a project does not
install). On PostgreSQL each run gets test databases named for it alone, dropped afterwards even if it crashed.
"""

import json
import os
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from . import sdist, tree

# Django's test packages whose models switch to TrackableModel: the ones that exercise saving, updating, deleting,
# querying and serialising model instances (issue 9's list).
LABELS = (
    "basic",
    "update",
    "update_only_fields",
    "bulk_create",
    "get_or_create",
    "defer",
    "force_insert_update",
    "save_delete_hooks",
    "model_forms",
    "serializers",
    "select_for_update",
    "model_inheritance",
    "proxy_models",
    "signals",
    "transactions",
    "expressions",
    "queries",
    "fixtures",
    "delete",
)
# The labels that run a second time with TimestampedModel, where soft delete meets Django's own machinery: instance
# and queryset delete (basic, delete: the collector and cascades), model forms (validation and choices read the
# default manager), serialisation and fixtures (dumpdata and loaddata must see and keep every row).
TIMESTAMPED_LABELS = ("basic", "delete", "model_forms", "serializers", "fixtures")
BASES = {"TrackableModel": LABELS, "TimestampedModel": TIMESTAMPED_LABELS}
# The control run: every label with its models left on models.Model, in the same tree, with the same settings,
# runner and installed apps. Every test passes there, or the harness itself is at fault, not the base models.
CONTROL = "Model"
DATABASES = ("sqlite", "postgres")
# Variables of the developer's shell that would change the settings or the interpreter of a run.
LEAKING_VARIABLES = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
TIMEOUT = 900


@dataclass
class LabelRun:
    """What one label's run did. `crash` holds the run's output when it recorded no results."""

    django_version: str
    database: str
    base: str
    label: str
    seconds: float
    outcomes: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)  # {model name: built on the base model} for the label's app
    crash: str | None = None

    @property
    def key(self):
        return (self.django_version, self.database, self.base, self.label)


def django_version_of(python):
    """The exact version of Django installed for `python` ("5.2.19")."""
    done = subprocess.run(
        [str(python), "-c", "import django; print(django.get_version())"],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_environment(),
    )
    return done.stdout.strip()


def run_project(python, project, databases, workdir, bases=None, labels=None, postgres_url=None, not_run=()):
    """Run the labels of each base (TrackableModel, TimestampedModel, or CONTROL) on each database for the project
    whose virtualenv holds `python`, leaving out the tests named in `not_run`; yield a LabelRun per (database, base,
    label) as each finishes."""
    version = django_version_of(python)
    tests = sdist.django_tests(version)
    for base in bases or BASES:
        chosen = [label for label in BASES.get(base, LABELS) if labels is None or label in labels]
        if not chosen:
            continue
        root = Path(tempfile.mkdtemp(prefix=f"{base.lower()}-", dir=workdir))
        switched = tree.build(tests, root / "tests", None if base == CONTROL else base, chosen)
        for database in databases:
            for label in chosen:
                run = run_label(python, project, root / "tests", version, database, base, label, postgres_url, not_run)
                if base != CONTROL:
                    _check_switched(run, switched[label])
                yield run


def run_label(python, project, tests, version, database, base, label, postgres_url=None, not_run=()):
    test_database = f"compat_{label[:30]}_{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="compat-") as scratch:
        results = Path(scratch) / "results.json"
        env = _clean_environment(
            PYTHONPATH=str(project),
            PYTHONDONTWRITEBYTECODE="1",
            COMPAT_DATABASE=database,
            COMPAT_POSTGRES_URL=postgres_url or "",
            COMPAT_TEST_DATABASE=test_database,
            COMPAT_RESULTS=str(results),
            COMPAT_LABEL=label,
            COMPAT_NOT_RUN=",".join(test for test in not_run if test.split(".", 1)[0] == label),
            COMPAT_BASE="django.db.models.Model" if base == CONTROL else f"apps.core.models.{base}",
        )
        command = [str(python), "runtests.py", "--settings=compat_settings", "--parallel=1", "--noinput", label]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, cwd=tests, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
            )
            output = f"{done.stdout}\n{done.stderr}"
        except subprocess.TimeoutExpired as expired:
            output = f"timed out after {TIMEOUT} s\n{_text(expired.stdout)}\n{_text(expired.stderr)}"
        finally:
            if database == "postgres":
                _drop_databases(postgres_url, (test_database, f"{test_database}_other"))
        seconds = time.perf_counter() - start
        run = LabelRun(version, database, base, label, seconds)
        if results.is_file():
            recorded = json.loads(results.read_text(encoding="utf-8"))
            run.outcomes = recorded["tests"]
            run.models = recorded["models"]
        else:
            run.crash = f"runtests.py recorded no results:\n{output.strip()[-6000:]}"
        return run


def _check_switched(run, switched):
    """A run whose switched models are not built on the base model proves nothing: it counts as a crash."""
    if run.crash:
        return
    names = [name for names in switched.values() for name in names]
    # Abstract test models are switched too but never registered, so only the registered ones are checked.
    plain = [name for name in names if run.models.get(name) is False]
    if plain or not any(run.models.get(name) for name in names):
        run.crash = (
            f"the models switched in the source are not built on {run.base} once loaded: "
            f"{', '.join(plain) or 'none of them is registered'}"
        )


def _clean_environment(**extra):
    environment = {key: value for key, value in os.environ.items() if key not in LEAKING_VARIABLES}
    environment.update(extra)
    return environment


def _drop_databases(server_url, names):
    with psycopg.connect(server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _text(output):
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
