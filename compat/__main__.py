"""Run the compatibility check from the command line (what `make test-compat` does).

    python -m compat [--django 6.1] [--django 5.2] [--database sqlite] [--database postgres]
                     [--base TrackableModel] [--label basic ...] [--control] [--template PATH] [--details]
                     [--json FILE] [--keep]

Bakes the template once per Django version (through tests/baking.py's Bakery, so exactly as the template's tests
bake it), installs each project in its own virtualenv, runs Django's own tests for the labels and prints the table.
`--control` runs the same labels with their models left on models.Model instead: every test must pass, which shows
that the harness itself (its settings, runner and the project's installed apps) causes no failure.
Exits 1 on any unexpected failure or stale entry in the list, 2 when the check cannot run at all.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import yaml
from pytest_cookies.plugin import Cookies

from tests.baking import POSTGRES_SERVER, TEMPLATE, Bakery, StepFailed

from . import expected, report, suite
from .errors import CompatError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m compat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--django", action="append", choices=expected.DJANGO_VERSIONS, help="default: both")
    parser.add_argument("--database", action="append", choices=suite.DATABASES, help="default: both")
    parser.add_argument("--base", action="append", choices=tuple(suite.BASES), help="default: both")
    parser.add_argument("--label", action="append", choices=suite.LABELS, help="default: every label")
    parser.add_argument(
        "--control", action="store_true", help="run the labels with their models unchanged: all must pass"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER, help=f"default: {POSTGRES_SERVER}")
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="the template to bake (default: this one)")
    parser.add_argument("--expected", type=Path, default=expected.DEFAULT_LIST, help="the list of differences")
    parser.add_argument("--details", action="store_true", help="print whole tracebacks of unexpected failures")
    parser.add_argument("--json", type=Path, help="also write every test's outcome to this file")
    parser.add_argument("--keep", action="store_true", help="keep the bakes, virtualenvs and test trees")
    args = parser.parse_args(argv)

    databases = args.database or list(suite.DATABASES)
    try:
        differences = expected.load(args.expected)
        not_run = expected.load_not_run(args.expected)
        if "postgres" in databases:
            _require_postgres(args.postgres_url)
        workdir = Path(tempfile.mkdtemp(prefix="compat-"))
        try:
            results = _run(args, databases, differences, not_run, workdir)
        finally:
            if args.keep:
                print(f"Kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    except (CompatError, StepFailed) as error:
        print(f"The compatibility check could not run: {error}", file=sys.stderr)
        return 2

    print()
    print(report.table(results))
    if not_run:
        print()
        print(report.left_out(not_run))
    problems = report.problems(results, full=args.details)
    if problems:
        print()
        print(problems)
    if args.json:
        args.json.write_text(json.dumps([_as_json(run, verdict) for run, verdict in results], indent=1))
    return 0 if all(verdict.ok for _run, verdict in results) else 1


def _run(args, databases, differences, not_run, workdir):
    bakery = Bakery(_cookies(args.template, workdir), workdir / "venvs")
    (workdir / "venvs").mkdir()
    results = []
    for version in args.django or expected.DJANGO_VERSIONS:
        started = time.perf_counter()
        project = bakery.installed(bakery.bake(django_version=version))
        print(f"Baked and installed the Django {version} project in {time.perf_counter() - started:.1f} s", flush=True)
        runs = suite.run_project(
            project.venv / "bin" / "python",
            project.path,
            databases,
            workdir,
            bases=[suite.CONTROL] if args.control else args.base,
            labels=args.label,
            postgres_url=args.postgres_url,
            not_run=not_run,
        )
        for run in runs:
            verdict = expected.compare(run, differences)
            print(
                f"  {run.django_version} {run.database:8} {run.base:16} {run.label:20} {run.seconds:6.1f} s  "
                f"{'ok' if verdict.ok else 'NOT OK'}",
                flush=True,
            )
            results.append((run, verdict))
    return results


def _require_postgres(url):
    try:
        with psycopg.connect(url, connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        raise CompatError(
            f"no PostgreSQL server answers at {url} ({str(error).strip()}); pass --database sqlite to run without it."
        ) from error


def _cookies(template, workdir):
    """pytest-cookies' baker, outside pytest: a private cookiecutter config, each bake in its own folder."""
    user_dir = workdir / "cookiecutter"
    config = user_dir / "config"
    user_dir.mkdir()
    config.write_text(
        yaml.safe_dump({"cookiecutters_dir": str(user_dir / "templates"), "replay_dir": str(user_dir / "replay")})
    )
    bakes = workdir / "bakes"

    def output_factory(name):
        folder = bakes / name
        folder.mkdir(parents=True)
        return folder

    return Cookies(str(template), output_factory, config)


def _as_json(run, verdict):
    return {
        "django": run.django_version,
        "database": run.database,
        "base": run.base,
        "label": run.label,
        "seconds": round(run.seconds, 2),
        "crash": run.crash,
        "outcomes": run.outcomes,
        "expected": sorted(verdict.expected),
        "unexpected": sorted(verdict.unexpected),
        "stale": [difference.test for difference in verdict.stale],
    }


if __name__ == "__main__":
    sys.exit(main())
