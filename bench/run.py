#!/usr/bin/env python
"""Benchmark the baked project's audit trail and task claiming against a plain model, django-simple-history and
django-auditlog. See bench/README.md.

    python bench/run.py --project /path/to/baked/project [--quick] [--postgres-url URL]
"""

import argparse
import atexit
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import setup  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, type=Path, help="a baked project (the folder with manage.py)")
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds (a smoke run, well under 60 s)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL, help=f"server to use (default {DEFAULT_PG_URL})")
    parser.add_argument(
        "--bake-times", default="", help="comma-separated seconds of earlier bakes, for table 5 (bake_and_run.py)"
    )
    parser.add_argument("--skip-project-tests", action="store_true", help="do not time the project's pytest")
    parser.add_argument("--profile", action="store_true", help="profile Trackable saves with pyinstrument")
    args = parser.parse_args(argv)
    if not (args.project / "manage.py").is_file():
        parser.error(f"{args.project} is not a baked project (no manage.py in it)")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    pg_name = f"bench_{os.getpid()}"
    pg_problem = setup.pg_server_url(args.postgres_url)
    if pg_problem is None:
        setup.create_database(args.postgres_url, pg_name)
        atexit.register(drop_pg, args.postgres_url, pg_name)
    setup.configure(args.project, args.postgres_url if pg_problem is None else None, pg_name)

    from benchlib import statements, throughput

    backends = [("default", "SQLite (in memory)")]
    if pg_problem is None:
        backends.append(("pg", f"PostgreSQL (database {pg_name})"))
    for alias, _ in backends:
        setup.migrate(alias)
    print(f"Benchmark of {args.project.resolve()} ({'quick' if args.quick else 'full'} run)")

    for alias, name in backends:
        statements.report(alias, f"1. Statements per operation - {name}")
    if pg_problem is not None:
        print(f"\n1. Statements per operation - PostgreSQL\n  skipped: no server at {args.postgres_url} ({pg_problem})")
    rows, rounds = (200, 3) if args.quick else (2000, 5)
    for alias, name in backends:
        throughput.report(alias, f"2. Creates and updates - {name}", rows, rounds)
    print(f"total bench time {time.perf_counter() - started:.1f} s")


def drop_pg(url, name):
    from django.db import connections

    connections.close_all()
    setup.drop_database(url, name)


if __name__ == "__main__":
    main()
