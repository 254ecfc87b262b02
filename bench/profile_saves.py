#!/usr/bin/env python
"""Profile one kind of write of table 9 for one benchmark model, with pyinstrument when it is installed (cProfile
otherwise), after timing it against the same-width plain model: the call tree, library frames folded, with each
frame's share of the time. For finding where a ratio goes.

    python bench/profile_saves.py --project /path/to/baked/project [--model TrackableModel]
        [--workload save|create|bulk_update|get_save|qs_update] [--postgres]

The writes are table 9's: `save` is save() of a loaded row after changing one field, `create` is
Model.objects.create(), `bulk_update` is bulk_update() of 20 loaded rows, `get_save` is get(pk=) + save() and
`qs_update` is filter(pk=).update(quantity=F("quantity") + 1). SQLite is a file in WAL mode, as in table 9.
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
WORKLOADS = ("save", "create", "bulk_update", "get_save", "qs_update")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--model", default="TrackableModel", help="a label of table 9 (default TrackableModel)")
    parser.add_argument("--workload", default="save", choices=WORKLOADS)
    parser.add_argument("--rows", type=int, default=2000, help="writes profiled (rows for bulk_update)")
    parser.add_argument("--postgres", action="store_true", help="profile on PostgreSQL instead of a SQLite file")
    parser.add_argument("--postgres-url", default=DEFAULT_PG_URL)
    parser.add_argument("--interval", type=float, default=0.0001, help="pyinstrument's sampling interval (s)")
    args = parser.parse_args(argv)

    pg_url = args.postgres_url if args.postgres else None
    with setup.one_database(args.project, pg_url, f"bench_profile_{os.getpid()}") as alias:
        profile(alias, args.model, args.workload, args.rows, args.interval)


def prepared(alias, model, tables, workload, rows, writes=None):
    """A function running `writes` (by default `rows`) writes of `workload` on fresh rows of `model`, everything it
    needs made beforehand: `rows` rows (`rows` // 20 chunks for bulk_update) whatever the number of writes, so that
    runs of different lengths prepare the same."""
    from benchlib.single_writes import BULK_ROWS
    from benchlib.subjects import new_values
    from benchlib.util import reset_tables
    from django.db.models import F

    reset_tables(alias, tables)
    manager = model._default_manager.db_manager(alias)
    if workload == "create":
        return lambda: [manager.create(**new_values(i)) for i in range(rows if writes is None else writes)]
    manager.bulk_create([model(**new_values(i)) for i in range(rows)])
    objs = list(manager.order_by("pk"))
    if workload == "bulk_update":
        chunks = [objs[start : start + BULK_ROWS] for start in range(0, len(objs), BULK_ROWS)][:writes]

        def bulk_update():
            for chunk in chunks:
                for obj in chunk:
                    obj.quantity += 1
                manager.bulk_update(chunk, ["quantity"])

        return bulk_update
    objs = objs[:writes]
    if workload == "save":

        def save_loaded():
            for obj in objs:
                obj.quantity += 1
                obj.save()

        return save_loaded
    if workload == "get_save":

        def get_and_save():
            for obj in objs:
                loaded = manager.get(pk=obj.pk)
                loaded.quantity += 1
                loaded.save()

        return get_and_save
    return lambda: [manager.filter(pk=obj.pk).update(quantity=F("quantity") + 1) for obj in objs]  # qs_update


def profile(alias, label, workload, rows, interval):
    from benchlib import router
    from benchlib.single_writes import BASELINE, BULK_ROWS, subjects
    from django.db import connections

    chosen = {name: (model, tables) for name, model, tables, by_hand in subjects(connections[alias].vendor)}
    chosen = {name: value for name, value in chosen.items() if name != "limit (raw SQL)"}
    if label not in chosen:
        sys.exit(f"--model must be one of {', '.join(chosen)}")
    per = f"{BULK_ROWS}-row bulk_update()" if workload == "bulk_update" else "write"
    calls = rows // BULK_ROWS if workload == "bulk_update" else rows
    with router.use(alias):
        for name in (BASELINE, label):
            run = prepared(alias, *chosen[name], workload, rows)
            start = time.perf_counter()
            run()
            print(f"{name}: {(time.perf_counter() - start) / calls * 1e6:.0f} us per {per} (unprofiled)")
        run = prepared(alias, *chosen[label], workload, rows)
        try:
            from pyinstrument import Profiler
        except ImportError:
            profiler = cProfile.Profile()
            profiler.runcall(run)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
            return
        profiler = Profiler(interval=interval)
        profiler.start()
        run()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False, time="percent_of_total"))


if __name__ == "__main__":
    main()
