#!/usr/bin/env python
"""Count the CPU instructions one write of table 9 costs, for the same-width plain model and audited models, with
valgrind: a figure that does not move with the machine's load, where the timings of a shared machine move by 10 %
or more from run to run. For telling whether a change to the write path made it cheaper.

    python bench/count_instructions.py --project /path/to/baked/project
        [--workload save|create|get_save|qs_update|bulk_update] [--model TrackableModel ...] [--postgres]

Each model runs twice under `valgrind --tool=cachegrind` (instructions only, no cache simulation), with the same
rows prepared and 100 then 1,100 writes (bulk_update: 5 then 55 calls of 20 rows); the difference over the extra
writes is the count per write, free of start-up, setup and teardown. PYTHONHASHSEED is fixed, so a run repeats to
within a few hundred instructions. On SQLite (a file in WAL mode, as table 9) the count includes the database
engine, which runs in the process; on PostgreSQL (`--postgres`) only the client's side. Time spent waiting for the
disk or the server is not counted: the ratio says what the write path costs the CPU, not the wall-clock ratio.

Needs valgrind (`apt-get install valgrind`). About half a minute per run; the runs of two models go in parallel.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profile_saves
from benchlib import setup
from benchlib.single_writes import BULK_ROWS

BASELINE = "plain, same width"
ROWS = 1_100
SHORT, LONG = 100, 1_100
_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--workload", default="save", choices=profile_saves.WORKLOADS)
    parser.add_argument("--model", action="append", help="a label of table 9 (repeatable; default TrackableModel)")
    parser.add_argument("--postgres", action="store_true", help="write to PostgreSQL instead of a SQLite file")
    parser.add_argument("--postgres-url", default=profile_saves.DEFAULT_PG_URL)
    parser.add_argument("--writes", type=int, help=argparse.SUPPRESS)  # the child run: write this many, then exit
    args = parser.parse_args(argv)
    labels = [BASELINE, *(args.model or ["TrackableModel"])]
    if args.writes is not None:
        return write(args, labels[-1])
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: it counts the instructions (apt-get install valgrind).")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(labels, pool.map(lambda label: per_write(args, label), labels), strict=True))
    where = "PostgreSQL (the client's side)" if args.postgres else "SQLite file (WAL), engine included"
    per = f"bulk_update() call of {BULK_ROWS} rows" if args.workload == "bulk_update" else "write"
    print(f"Instructions per {per}, {args.workload}, {where}:")
    for label, count in counts.items():
        print(f"  {label:<20} {count:>12,}  {count / counts[BASELINE]:.3f}x  (+{count - counts[BASELINE]:,})")
    return 0


def per_write(args, label):
    """Instructions per write of `label`: the two runs' difference over the writes the longer one adds."""
    if args.workload == "bulk_update":
        short, long = SHORT // BULK_ROWS, LONG // BULK_ROWS
    else:
        short, long = SHORT, LONG
    return (instructions(args, label, long) - instructions(args, label, short)) // (long - short)


def instructions(args, label, writes):
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        f"--project={args.project}",
        f"--workload={args.workload}",
        f"--model={label}",
        f"--writes={writes}",
        f"--postgres-url={args.postgres_url}",
        *(["--postgres"] if args.postgres else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    found = _I_REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"{label}: the run under valgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def write(args, label):
    """The child run: prepare ROWS rows of `label`, then make `args.writes` writes."""
    pg_url = args.postgres_url if args.postgres else None
    with setup.one_database(args.project, pg_url, f"bench_instructions_{os.getpid()}") as alias:
        from benchlib import router
        from benchlib.single_writes import subjects
        from django.db import connections

        chosen = {
            name: (model, tables)
            for name, model, tables, by_hand in subjects(connections[alias].vendor)
            if not by_hand  # the raw-SQL limit has no ORM writes to count
        }
        if label not in chosen:
            sys.exit(f"--model must be one of {', '.join(chosen)}")
        with router.use(alias):
            profile_saves.prepared(alias, *chosen[label], args.workload, ROWS, args.writes)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
