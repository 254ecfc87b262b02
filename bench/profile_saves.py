#!/usr/bin/env python
"""Profile save() of loaded rows (table 2's "update") for one benchmark model against the plain model, with
pyinstrument when it is installed (cProfile otherwise). For finding where an update ratio goes.

    python bench/profile_saves.py --project /path/to/baked/project [--model TrackableModel] [--postgres]
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import setup

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--model", default="TrackableModel", help="a label of table 2 (default TrackableModel)")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="profile on PostgreSQL instead of in-memory SQLite")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)

    pg_name = f"bench_profile_{os.getpid()}"
    if args.postgres:
        setup.create_database(args.postgres_url, pg_name)
    try:
        setup.configure(args.project, args.postgres_url if args.postgres else None, pg_name)
        alias = "pg" if args.postgres else "default"
        setup.migrate(alias)
        profile(alias, args.model, args.rows)
    finally:
        if args.postgres:
            from django.db import connections

            connections.close_all()
            setup.drop_database(args.postgres_url, pg_name)


def loaded_rows(alias, model, tables, rows):
    from benchlib.subjects import new_values
    from benchlib.util import reset_tables

    reset_tables(alias, tables)
    manager = model._default_manager.db_manager(alias)
    for i in range(rows):
        manager.create(**new_values(i))
    return list(manager.order_by("pk"))


def update_all(objs):
    for obj in objs:
        obj.quantity += 1
        obj.save()


def profile(alias, label, rows):
    from benchlib import router
    from benchlib.subjects import subjects

    chosen = {name: (model, tables) for name, model, tables in subjects()}
    if label not in chosen:
        sys.exit(f"--model must be one of {', '.join(chosen)}")
    with router.use(alias):
        for name in ("plain", label):
            model, tables = chosen[name]
            objs = loaded_rows(alias, model, tables, rows)
            start = time.perf_counter()
            update_all(objs)
            print(f"{name}: {(time.perf_counter() - start) / rows * 1e6:.0f} us per save() (unprofiled)")
        objs = loaded_rows(alias, *chosen[label], rows)
        try:
            from pyinstrument import Profiler
        except ImportError:
            profiler = cProfile.Profile()
            profiler.runcall(update_all, objs)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
            return
        profiler = Profiler(interval=0.0001)
        profiler.start()
        update_all(objs)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
