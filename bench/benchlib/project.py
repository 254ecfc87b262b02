"""Table 5: bake time of the template (measured by bake_and_run.py, passed in) and the wall time of the baked
project's own test suite, run with pytest in a subprocess."""

import os
import subprocess
import sys
import time

from .setup import drop_database, with_database
from .util import fmt_seconds, median, print_table


def run_pytest(project, extra_env, collect_only):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if collect_only:
        command.append("--collect-only")
    env = {**os.environ, **extra_env}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the project's pytest configuration names its own settings
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False)
    seconds = time.perf_counter() - start
    lines = [line for line in (completed.stdout + completed.stderr).splitlines() if line.strip()]
    return seconds, completed.returncode, (lines[-1] if lines else "(no output)")


def report(title, project, bake_times, pg_url, quick, skip_tests):
    """bake_times: seconds of each bake (may be empty); pg_url: a server that answers, or None."""
    rows = []
    if bake_times:
        rows.append(
            [
                f"bake the template (median of {len(bake_times)})",
                fmt_seconds(median(bake_times)),
                "",
                f"min {fmt_seconds(min(bake_times))} / max {fmt_seconds(max(bake_times))}",
            ]
        )
    else:
        rows.append(["bake the template", "n/a", "", "not measured: run through bench/bake_and_run.py"])
    label = "collect" if quick else "run"
    suites = [("SQLite", {})]
    pg_name = f"bench_pytest_{os.getpid()}"
    if pg_url:
        # The project's test runner creates (and drops) test_<name> itself, through the server's own database.
        suites.append(("PostgreSQL", {"DATABASE_URL": with_database(pg_url, pg_name)}))
    for name, env in suites:
        if skip_tests:
            rows.append([f"project's pytest, {name}", "n/a", "", "skipped (--skip-project-tests)"])
            continue
        try:
            seconds, code, last = run_pytest(project, env, collect_only=quick)
        except subprocess.TimeoutExpired:
            rows.append([f"project's pytest ({label}), {name}", "timeout", "", ""])
            continue
        finally:
            if env:
                drop_database(pg_url, f"test_{pg_name}")
        rows.append([f"project's pytest ({label}), {name}", fmt_seconds(seconds), str(code), last[:90]])
    notes = [
        "Bake: cookiecutter --no-input into a fresh directory, timed by bake_and_run.py.",
        "pytest: wall time of `python -m pytest -q` in the baked project (a subprocess; includes start-up).",
    ]
    if quick:
        notes.append("--quick: only collects the tests (--collect-only), so this path is exercised cheaply.")
    if pg_url is None:
        notes.append("PostgreSQL suite skipped: no server.")
    print_table(title, ["what", "wall time", "exit", "detail"], rows, notes=notes)
