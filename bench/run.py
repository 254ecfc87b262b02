#!/usr/bin/env python
"""Benchmark the baked project's audit trail and task claiming against a plain model, django-simple-history and
django-auditlog, on SQLite (in memory) and PostgreSQL. See bench/README.md.

    python bench/run.py --project /path/to/baked/project [--quick] [--postgres-url URL]

Run it with the Python of a virtual environment holding the baked project (pip install -e) and
bench/requirements.txt; bench/bake_and_run.py does all of that.
"""

import argparse
import atexit
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import setup

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, type=Path, help="a baked project (the folder with manage.py)")
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds: a smoke run, well under 60 s")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL, help=f"server to use (default {DEFAULT_PG_URL})")
    parser.add_argument("--bake-times", default="", help="comma-separated seconds of bakes, for table 5")
    parser.add_argument("--skip-project-tests", action="store_true", help="do not run the project's pytest")
    args = parser.parse_args(argv)
    if not (args.project / "manage.py").is_file():
        parser.error(f"{args.project} is not a baked project (no manage.py in it)")
    try:
        args.bake_times = [float(value) for value in args.bake_times.split(",") if value.strip()]
    except ValueError:
        parser.error(f"--bake-times takes comma-separated seconds, not {args.bake_times!r}")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    pg_name = f"bench_{os.getpid()}"
    pg_problem = setup.pg_server_url(args.postgres_url)
    if pg_problem is None:
        setup.create_database(args.postgres_url, pg_name)
        atexit.register(drop_pg, args.postgres_url, pg_name)
    setup.configure(args.project, None if pg_problem else args.postgres_url, pg_name)

    from benchlib import (
        admin_page,
        archive,
        claims,
        history_depth,
        history_reads,
        project,
        queryset_update,
        single_writes,
        statements,
        throughput,
        workers,
    )
    from benchlib.util import print_skipped

    no_server = f"no server at {args.postgres_url} ({pg_problem})"
    backends = [("default", "SQLite (in memory)")]
    if pg_problem is None:
        backends.append(("pg", f"PostgreSQL (database {pg_name})"))
    for alias, _ in backends:
        setup.migrate(alias)
    setup.migrate("wal")  # table 9's SQLite file
    mode = "quick" if args.quick else "full"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"Benchmark of {args.project.resolve()} ({mode} run)")
    print(f"Python {sys.version.split()[0]}, Django {django_version()}, {os.cpu_count()} CPUs, load average {load}")

    def each_backend(title, fn):
        results = {alias: fn(alias, f"{title} - {name}") for alias, name in backends}
        if pg_problem is not None:
            print_skipped(f"{title} - PostgreSQL", no_server)
        return results

    each_backend("1. Statements per operation", statements.report)

    rows, rounds = (100, 2) if args.quick else (2000, 5)
    speed = each_backend(
        f"2. {rows:,} creates and {rows:,} updates", lambda alias, title: throughput.report(alias, title, rows, rounds)
    )

    lengths, repeats = (10, 1000, 10000), (5 if args.quick else 21)
    each_backend(
        "3. One update when the history already holds N entries",
        lambda alias, title: history_depth.report(alias, title, lengths, repeats),
    )

    title = "4. Task.objects.claim(count=10) with concurrent workers - PostgreSQL"
    claimed = None
    if pg_problem is None:
        claimed = claims.report("pg", title, 2000 if args.quick else 20000, (1, 2, 4, 8))
    else:
        print_skipped(title, no_server)

    update_rows = 500 if args.quick else 5000
    bulk = each_backend(
        f"5. QuerySet.update() of {update_rows:,} rows whose old values all differ",
        lambda alias, title: queryset_update.report(alias, title, update_rows, 2 if args.quick else 5),
    )

    title = "6. Task workers end to end - PostgreSQL"
    jobs = None
    if pg_problem is None:
        jobs = workers.report(
            "pg",
            title,
            setup.with_database(args.postgres_url, pg_name),
            100 if args.quick else 2000,
            WORKER_COUNTS,
            5 if args.quick else 20,
            quick=args.quick,
        )
    else:
        print_skipped(title, no_server)

    admin_ratio = {}
    for alias, name in backends:
        url = None
        if alias == "pg":
            url = setup.with_database(args.postgres_url, f"{pg_name}_admin")
            setup.create_database(args.postgres_url, f"{pg_name}_admin")
        try:
            admin_ratio[alias] = admin_page.report(
                args.project.resolve(),
                f"7. Admin change page with a long history - {'SQLite (a file)' if alias == 'default' else name}",
                url,
                args.quick,
            )
        finally:
            if url:
                setup.drop_database(args.postgres_url, f"{pg_name}_admin")
    if pg_problem is not None:
        print_skipped("7. Admin change page with a long history - PostgreSQL", no_server)

    project.report(
        "8. Template and project",
        args.project.resolve(),
        args.bake_times,
        None if pg_problem else args.postgres_url,
        args.quick,
        args.skip_project_tests,
    )

    # The ratios always come from SQLite (in memory), where the issue that asked for them measured its reference
    # figures (plain 1.00x, simple-history 3.6x, auditlog 4.6x); PostgreSQL's own ratios are in table 2.
    update = {label: times["update"] for label, times in speed["default"].items()}
    ratio = {label: seconds / update["plain"] for label, seconds in update.items()}
    if claimed is None:
        per_second = duplicates = "n/a"
    else:
        eight = claimed[8, "claim() SKIP LOCKED"]
        per_second = f"{eight['taken'] / eight['seconds']:.0f}"
        duplicates = sum(
            outcome["duplicates"] for (_, method), outcome in claimed.items() if method.startswith("claim")
        )
    update_ratios = " ".join(
        f"queryset_update_ratio_{'sqlite' if alias == 'default' else 'pg'}={ratios['TrackableModel']:.2f}"
        for alias, ratios in bulk.items()
    )
    if pg_problem is not None:
        update_ratios += " queryset_update_ratio_pg=n/a"
    update_ratios += " " + " ".join(
        f"admin_page_10000_ratio_{'sqlite' if alias == 'default' else 'pg'}={ratio:.2f}"
        for alias, ratio in admin_ratio.items()
    )
    if pg_problem is not None:
        update_ratios += " admin_page_10000_ratio_pg=n/a"
    update_ratios += " " + worker_summary(jobs)
    single_rows, single_rounds = (40, 3) if args.quick else (500, 5)
    single = {}
    for alias, name in [("wal", "SQLite (a file, WAL)"), *[b for b in backends if b[0] == "pg"]]:
        single[alias] = single_writes.report(
            alias, f"9. Single-row writes and a 20-row bulk_update() - {name}", single_rows, single_rounds
        )
    if pg_problem is not None:
        print_skipped("9. Single-row writes and a 20-row bulk_update() - PostgreSQL", no_server)
    update_ratios += " " + single_summary(single)
    archive_lengths = (10, 1000, 10000) if args.quick else (10, 1000, 10000, 100000)
    each_backend(
        "10. The audit archive: saves of long histories, deletes, history_of()",
        lambda alias, title: archive.report(
            alias,
            title,
            archive_lengths,
            5 if args.quick else 21,
            1000 if args.quick else 10000,
            1 if args.quick else 3,
            archive_lengths[-1],
        ),
    )
    each_backend(
        "11. Reading histories",
        lambda alias, title: history_reads.report(
            alias,
            title,
            (10, 1000, 10000),
            5 if args.quick else 21,
            10000 if args.quick else 100000,
            100 if args.quick else 1000,
        ),
    )
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    print(
        "Summary: ratios are table 2's updates on SQLite (in memory), like the issue's reference figures "
        "(PostgreSQL's ratios are in table 2); claims per second and duplicates (over every claim() run): table 4; "
        "workers' jobs per second with 1/2/4 processes and run_tasks' enqueue-to-start median: table 6; "
        "single-row writes (create/get + save/save loaded/qs.update/bulk_update) over the same-width plain model: "
        "table 9."
    )
    print(
        f"trackable_update_ratio={ratio['TrackableModel']:.2f} simple_history_ratio={ratio['simple-history']:.2f} "
        f"auditlog_ratio={ratio['auditlog']:.2f} claim_8_workers_per_s={per_second} duplicates={duplicates} "
        f"{update_ratios}"
    )


WORKER_COUNTS = (1, 2, 4)

# Table 9's rows in the summary line, by key.
SINGLE_WRITE_KEYS = {
    "TrackableModel": "trackable",
    "TimestampedModel": "timestamped",
    "django-pghistory": "pghistory",
    "limit (raw SQL)": "raw_sql",
}


def single_summary(single):
    """Table 9's ratios to the same-width plain model, five per model (create/get + save/save loaded/qs.update/
    bulk_update), on SQLite (the file) and PostgreSQL."""
    from benchlib.single_writes import summary

    keys = []
    for alias, database in (("wal", "sqlite"), ("pg", "pg")):
        ratios = single.get(alias)
        for label, key in SINGLE_WRITE_KEYS.items():
            if key == "pghistory" and database == "sqlite":
                continue  # PostgreSQL only
            keys.append(summary(None if ratios is None else ratios[label], f"{key}_writes_{database}"))
    return " ".join(keys)


def worker_summary(jobs):
    """Table 6's figures: jobs/s of each worker with 1, 2 and 4 processes, and run_tasks' enqueue-to-start median."""
    labels = {"run_tasks": "run_tasks", "django_tasks_db": "django-tasks-db", "procrastinate": "procrastinate"}
    rates, starts = jobs or ({}, {})
    keys = [
        f"{key}_jobs_per_s="
        + ("/".join(f"{rates[label, n]:.0f}" for n in WORKER_COUNTS) if (label, 1) in rates else "n/a")
        for key, label in labels.items()
    ]
    start = f"{starts['run_tasks'] * 1000:.1f}" if "run_tasks" in starts else "n/a"
    return " ".join([*keys, f"enqueue_to_start_ms={start}"])


def django_version():
    import django

    return django.get_version()


def drop_pg(url, name):
    from django.db import connections

    connections.close_all()
    setup.drop_database(url, name)


if __name__ == "__main__":
    main()
