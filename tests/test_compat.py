"""Django's own tests pass with their models switched to the base models, apart from the reviewed differences in
compat/expected_differences.toml: once per Django version and database (compat/ is the harness; `make test-compat`
runs the same check by itself). The harness's own pieces are proven first, without a bake."""

import re
import textwrap

import pytest

from compat import expected, report, suite, transform, tree
from compat.errors import CompatError

# --- The check itself -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("django_version", expected.DJANGO_VERSIONS)
def test_djangos_own_tests_pass_with_the_base_models(bakery, django_version, database_url, tmp_path, capsys):
    project = bakery.installed(bakery.bake(django_version=django_version))
    database = "postgres" if database_url else "sqlite"
    results = _check(project, [database], tmp_path, postgres_url=database_url)
    with capsys.disabled():
        print(f"\n\nDjango's own tests with the base models, Django {django_version}, {database}:\n")
        print(report.table(results))
    assert all(verdict.ok for _run, verdict in results), f"{report.table(results)}\n\n{report.problems(results)}"


@pytest.mark.parametrize("django_version", expected.DJANGO_VERSIONS)
def test_the_harness_alone_fails_no_test(bakery, django_version, tmp_path, capsys):
    """The control run: the same labels, settings, runner and installed apps, with the models left on models.Model.
    Every test passes, so each failure of the check above is the base models' doing."""
    project = bakery.installed(bakery.bake(django_version=django_version))
    results = _check(project, ["sqlite"], tmp_path, bases=[suite.CONTROL])
    with capsys.disabled():
        print(f"\n\nControl run (models unchanged), Django {django_version}, sqlite:\n")
        print(report.table(results))
    assert all(verdict.ok for _run, verdict in results), f"{report.table(results)}\n\n{report.problems(results)}"


def _check(project, databases, workdir, bases=None, postgres_url=None):
    differences, not_run = expected.load(), expected.load_not_run()
    python = project.venv / "bin" / "python"
    runs = suite.run_project(
        python, project.path, databases, workdir, bases=bases, postgres_url=postgres_url, not_run=not_run
    )
    return [(run, expected.compare(run, differences)) for run in runs]


# --- The reviewed list ------------------------------------------------------------------------------------------


def test_the_reviewed_list_is_well_formed():
    """It loads (each entry has a reason, a pattern and tests of labels the check runs, no test twice), and is not
    empty: the base models add fields to every model, which some of Django's tests list."""
    assert expected.load()


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ('tests = ["basic.tests.T.test_x"]\nmatch = "x"', "needs `reason`"),
        ('tests = ["basic.tests.T.test_x"]\nreason = "Audit fields are listed too."', "needs `match`"),
        ('reason = "Audit fields are listed too."\nmatch = "x"', "needs `tests`"),
        ('tests = ["admin_views.tests.T.test_x"]\nreason = "Audit fields are listed too."\nmatch = "x"', "not a test"),
        ('tests = ["basic.tests.T.test_x"]\nreason = "Audit fields are listed too."\nmatch = "("', "not a valid"),
        (
            'tests = ["basic.tests.T.test_x"]\nreason = "Audit fields are listed too."\nmatch = "x"\n'
            'database = ["mysql"]',
            "`database` must be",
        ),
        ('tests = ["basic.tests.T.test_x"]\nreason = "Audit fields are listed too."\nmatch = "x"\nwhy = 1', "unknown"),
        (
            'tests = ["update.tests.T.test_x"]\nreason = "Soft delete keeps the row."\nmatch = "x"\n'
            'base = ["TimestampedModel"]',
            "never runs with TimestampedModel",
        ),
    ],
    ids=["no reason", "no pattern", "no tests", "unknown label", "bad pattern", "bad database", "unknown key", "base"],
)
def test_a_malformed_entry_is_refused_with_its_problem(tmp_path, entry, error):
    listing = tmp_path / "list.toml"
    listing.write_text(f"[[difference]]\n{entry}\n")
    with pytest.raises(CompatError, match=re.escape(error)):
        expected.load(listing)


def test_a_test_listed_twice_for_the_same_scope_is_refused(tmp_path):
    entry = '[[difference]]\ntests = ["basic.tests.T.test_x"]\nreason = "Audit fields are listed too."\nmatch = "x"\n'
    listing = tmp_path / "list.toml"
    listing.write_text(entry + entry.replace("match", 'database = ["sqlite"]\nmatch'))
    with pytest.raises(CompatError, match=re.escape("lists basic.tests.T.test_x twice")):
        expected.load(listing)


def test_tests_left_out_of_every_run_need_a_reason(tmp_path):
    assert all(len(reason.split()) >= 4 for reason in expected.load_not_run().values())
    listing = tmp_path / "list.toml"
    listing.write_text('[[not_run]]\ntests = ["serializers.tests.T.test_slow"]\n')
    with pytest.raises(CompatError, match="needs exactly `tests` and `reason`"):
        expected.load_not_run(listing)


# --- Comparing a run with the list ---------------------------------------------------------------------------------


@pytest.fixture
def listed(tmp_path):
    listing = tmp_path / "list.toml"
    listing.write_text(
        textwrap.dedent(
            """
            [[difference]]
            reason = "The audit fields are among the model's fields."
            match = "created_at"
            tests = ["basic.tests.T.test_fields", "basic.tests.T.test_fixed", "basic.tests.T.test_gone"]

            [[difference]]
            reason = "Only on PostgreSQL, for the sake of the test."
            match = "locked"
            tests = ["basic.tests.T.test_lock"]
            database = ["postgres"]
            """
        )
    )
    return expected.load(listing)


def _run(outcomes, database="sqlite", base="TrackableModel", crash=None):
    return suite.LabelRun(
        "5.2.19",
        database,
        base,
        "basic",
        1.0,
        outcomes={k: {"outcome": o, "detail": d} for k, (o, d) in outcomes.items()},
        crash=crash,
    )


def test_listed_failures_are_expected_and_others_unexpected(listed):
    run = _run(
        {
            "basic.tests.T.test_fields": ("failed", "AssertionError: ['id', 'created_at'] != ['id']"),
            "basic.tests.T.test_fixed": ("failed", "AssertionError: created_at"),
            "basic.tests.T.test_gone": ("failed", "AssertionError: created_at"),
            "basic.tests.T.test_new_bug": ("error", "TypeError: boom"),
            "basic.tests.T.test_lock": ("failed", "locked"),
            "basic.tests.T.test_fine": ("passed", None),
        }
    )
    verdict = expected.compare(run, listed)
    assert sorted(verdict.expected) == [
        "basic.tests.T.test_fields",
        "basic.tests.T.test_fixed",
        "basic.tests.T.test_gone",
    ]
    # test_lock is listed for PostgreSQL only: on SQLite its failure is unexpected.
    assert sorted(verdict.unexpected) == ["basic.tests.T.test_lock", "basic.tests.T.test_new_bug"]
    assert verdict.stale == []
    assert not verdict.ok


def test_a_listed_test_failing_for_another_reason_is_unexpected(listed):
    run = _run(
        {
            "basic.tests.T.test_fields": ("error", "IntegrityError: NOT NULL constraint failed"),
            "basic.tests.T.test_fixed": ("failed", "created_at"),
            "basic.tests.T.test_gone": ("failed", "created_at"),
        }
    )
    verdict = expected.compare(run, listed)
    assert list(verdict.unexpected) == ["basic.tests.T.test_fields"]
    assert "fails for another reason than the one listed" in verdict.unexpected["basic.tests.T.test_fields"]


def test_a_listed_test_that_passes_or_no_longer_runs_is_stale(listed):
    run = _run({"basic.tests.T.test_fields": ("failed", "created_at"), "basic.tests.T.test_fixed": ("passed", None)})
    verdict = expected.compare(run, listed)
    assert sorted(difference.test for difference in verdict.stale) == [
        "basic.tests.T.test_fixed",
        "basic.tests.T.test_gone",
    ]
    assert not verdict.unexpected
    assert not verdict.ok
    problems = report.problems([(run, verdict)])
    assert "STALE       basic.tests.T.test_fixed" in problems
    assert "listed as expected, but passed" in problems
    assert "listed as expected, but did not run" in problems


def test_entries_apply_only_to_their_database_and_base(listed):
    outcomes = {f"basic.tests.T.test_{name}": ("failed", "created_at locked") for name in ("fields", "fixed", "gone")}
    outcomes["basic.tests.T.test_lock"] = ("failed", "locked")
    assert expected.compare(_run(outcomes, database="postgres"), listed).ok
    control = expected.compare(_run(outcomes, base=suite.CONTROL), listed)
    assert len(control.unexpected) == 4  # the control run has no expected differences unless listed for "Model"


def test_a_run_that_recorded_nothing_is_one_unexpected_failure(listed):
    verdict = expected.compare(_run({}, crash="runtests.py recorded no results:\nImportError: x"), listed)
    assert list(verdict.unexpected) == ["basic (the whole run)"]
    assert verdict.stale == []


def test_the_table_counts_each_run_and_totals_them(listed):
    run = _run(
        {
            "basic.tests.T.test_fields": ("failed", "created_at"),
            "basic.tests.T.test_fixed": ("failed", "created_at"),
            "basic.tests.T.test_gone": ("failed", "created_at"),
            "basic.tests.T.test_new_bug": ("error", "TypeError: boom"),
            "basic.tests.T.test_skip": ("skipped", "no"),
            "basic.tests.T.test_ok": ("passed", None),
            "basic.tests.T.test_xfail": ("expected failure", None),
        }
    )
    lines = report.table([(run, expected.compare(run, listed))]).splitlines()
    assert lines[0].split() == list(report.COLUMNS)
    assert lines[2].split() == [
        "5.2.19",
        "sqlite",
        "TrackableModel",
        "basic",
        "7",
        "2",
        "1",
        "3",
        "1",
        "0",
        "1.0",
        "s",
    ]
    assert lines[-1].split() == ["total", "1", "runs", "7", "2", "1", "3", "1", "0", "1.0", "s"]


# --- Switching the test models ---------------------------------------------------------------------------------

MODELS = '''\
"""Docstring."""

from django.db import models


class PersonManager(models.Manager):
    pass


class Person(models.Model):
    name = models.CharField(max_length=10)


class Mixin(models.Model):
    extra = PersonManager()

    class Meta:
        abstract = True


class Common(models.Model):
    note = models.TextField()

    class Meta:
        abstract = True


class Child(Person, Mixin):
    pass


class Both(Common, models.Model):
    pass
'''


def test_models_model_bases_become_the_base_model_on_the_same_lines():
    source, switched = transform.switch_bases(MODELS, "TrackableModel")
    assert switched == ["Person", "Common", "Both"]
    assert source.count("\n") == MODELS.count("\n")
    assert "from django.db import models; from apps.core.models import TrackableModel\n" in source
    assert "class Person(TrackableModel):" in source
    assert "class Both(Common, TrackableModel):" in source
    # Managers, field-less abstract mixins and subclasses of other test models keep their bases.
    assert "class PersonManager(models.Manager):" in source
    assert "class Mixin(models.Model):" in source
    assert "class Child(Person, Mixin):" in source
    compile(source, "models.py", "exec")


def test_a_models_package_is_switched_module_by_module(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("from .a import *  # NOQA\n")
    (tmp_path / "models" / "a.py").write_text(MODELS)
    switched = transform.switch_package(tmp_path, "TimestampedModel")
    assert switched == {"models/a.py": ["Person", "Common", "Both"]}
    assert "class Person(TimestampedModel):" in (tmp_path / "models" / "a.py").read_text()


def test_a_source_that_already_uses_the_name_is_refused():
    with pytest.raises(CompatError, match="already defines or imports TrackableModel"):
        transform.switch_bases(MODELS + "\nTrackableModel = None\n", "TrackableModel")


def test_runtests_installs_the_projects_apps_right_after_its_own():
    source = 'import os\nALWAYS_INSTALLED_APPS = [\n    "django.contrib.auth",\n]\nprint(1)\n'
    patched = tree.install_project_apps(source)
    namespace = {}
    exec(patched.replace("print(1)", ""), namespace)  # noqa: S102 (our own literal source)
    assert namespace["ALWAYS_INSTALLED_APPS"] == ["django.contrib.auth", "apps.core"]
    with pytest.raises(CompatError, match="no longer defines ALWAYS_INSTALLED_APPS"):
        tree.install_project_apps("INSTALLED = []\n")
