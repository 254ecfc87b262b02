"""The benchmark suite runs end to end: `bench/bake_and_run.py --quick` prints its tables and, last, the
machine-readable summary line. One run per session, shared by the tests; the numbers themselves are not asserted."""

import re
import subprocess
import sys

import pytest

from .baking import POSTGRES_SERVER, TEMPLATE, shell_environment

SQLITE = " - SQLite ("  # in memory, or a file for the admin page and the single-row writes
POSTGRES = " - PostgreSQL"
# Tables run on each database: their titles end with the database's name.
PER_DATABASE = (
    "1. Statements per operation",
    "2. 100 creates and 100 updates",
    "3. One update when the history",
    "5. QuerySet.update() of 500 rows",
    "7. Admin change page with a long history",
    "9. Single-row writes and a 20-row bulk_update()",
    "10. The audit archive",
    "11. Reading histories",
)
CLAIMS = "4. Task.objects.claim(count=10) with concurrent workers - PostgreSQL"
WORKERS = "6. Task workers end to end - PostgreSQL"
PROJECT = "8. Template and project"
SUMMARY = re.compile(
    r"trackable_update_ratio=(?P<trackable>\d+\.\d+) simple_history_ratio=(?P<simple_history>\d+\.\d+) "
    r"auditlog_ratio=(?P<auditlog>\d+\.\d+) claim_8_workers_per_s=(?P<per_second>\d+|n/a) "
    r"duplicates=(?P<duplicates>\d+|n/a) queryset_update_ratio_sqlite=(?P<update_sqlite>\d+\.\d+) "
    r"queryset_update_ratio_pg=(?P<update_pg>\d+\.\d+|n/a) admin_page_10000_ratio_sqlite=\d+\.\d+ "
    r"admin_page_10000_ratio_pg=(?P<admin_pg>\d+\.\d+|n/a) "
    r"run_tasks_jobs_per_s=(?P<run_tasks>\d+/\d+/\d+|n/a) django_tasks_db_jobs_per_s=(?P<tasks_db>\d+/\d+/\d+|n/a) "
    r"procrastinate_jobs_per_s=(?P<procrastinate>\d+/\d+/\d+|n/a) enqueue_to_start_ms=(?P<start_ms>\d+\.\d+|n/a) "
    # Table 9: create/get + save/save loaded/qs.update/bulk_update over the same-width plain model.
    r"trackable_writes_sqlite=(?P<trackable_sqlite>{ratios}) timestamped_writes_sqlite={ratios} "
    r"raw_sql_writes_sqlite={ratios} trackable_writes_pg=(?P<trackable_pg>{ratios}|n/a) "
    r"timestamped_writes_pg=(?:{ratios}|n/a) pghistory_writes_pg=(?P<pghistory_pg>{ratios}|n/a) "
    r"raw_sql_writes_pg=(?:{ratios}|n/a)".replace("{ratios}", r"\d+\.\d+(?:/\d+\.\d+){4}")
)


@pytest.fixture(scope="module")
def bench():
    """The quick run's exit code and output lines."""
    environment = shell_environment()
    done = subprocess.run(
        [sys.executable, "bench/bake_and_run.py", "--quick", "--postgres-url", POSTGRES_SERVER],
        cwd=TEMPLATE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout.splitlines(), f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"


def postgres_tables(lines):
    """{title start: the line after the title} for each PostgreSQL table (its header, or its 'skipped:' line)."""
    found = {}
    for index, line in enumerate(lines[:-1]):
        for start in (*PER_DATABASE, CLAIMS, WORKERS):
            if line.startswith(start) and (line in (CLAIMS, WORKERS) or POSTGRES in line):
                found[start] = lines[index + 1]
    return found


def test_quick_run_prints_every_table_then_the_summary(bench):
    code, lines, output = bench
    assert code == 0, output
    for start in PER_DATABASE:
        assert any(line.startswith(start) and SQLITE in line for line in lines), f"{start}{SQLITE}\n{output}"
    assert PROJECT in lines, output
    # PostgreSQL's tables: printed, or each says it was skipped (test_postgres_tables requires them where it can).
    postgres = postgres_tables(lines)
    assert sorted(postgres) == sorted((*PER_DATABASE, CLAIMS, WORKERS)), output
    skipped = {start for start, after in postgres.items() if after.lstrip().startswith("skipped: no server")}
    assert skipped in (set(), set(postgres)), output
    summary = SUMMARY.fullmatch(lines[-1])
    assert summary, output
    if skipped:
        assert (summary["per_second"], summary["duplicates"], summary["update_pg"]) == ("n/a",) * 3, lines[-1]
        assert (summary["run_tasks"], summary["start_ms"]) == ("n/a",) * 2, lines[-1]
        assert (summary["trackable_pg"], summary["pghistory_pg"]) == ("n/a",) * 2, lines[-1]
    else:
        assert summary["per_second"] != "n/a", lines[-1]
        assert summary["duplicates"] == "0", lines[-1]


@pytest.mark.postgres
def test_postgres_tables_run_when_the_server_answers(bench, postgres_url):
    code, lines, output = bench
    assert code == 0, output
    postgres = postgres_tables(lines)
    assert sorted(postgres) == sorted((*PER_DATABASE, CLAIMS, WORKERS)), output
    for start, after in postgres.items():
        assert not after.lstrip().startswith("skipped:"), f"{start}: {after}\n{output}"
    assert any(line.startswith("project's pytest (collect), PostgreSQL") for line in lines), output
    summary = SUMMARY.fullmatch(lines[-1])
    assert summary, output
    assert summary["per_second"].isdigit(), lines[-1]
    assert summary["duplicates"] == "0", lines[-1]
    assert summary["update_pg"] != "n/a", lines[-1]
    # Table 6 runs the three workers side by side (django-tasks-db and procrastinate are bench requirements).
    for key in ("run_tasks", "tasks_db", "procrastinate"):
        assert summary[key] != "n/a", lines[-1]
    assert summary["start_ms"] != "n/a", lines[-1]
    # Table 9 runs django-pghistory (a bench requirement) beside TrackableModel on PostgreSQL.
    assert "n/a" not in (summary["trackable_pg"], summary["pghistory_pg"]), lines[-1]
    assert any(line.startswith("django-pghistory ") for line in lines), output
    assert not any(line.lstrip().startswith("ERROR (") for line in lines), output
