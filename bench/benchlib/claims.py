"""Table 4: Task.objects.claim(count=10) throughput with 1, 2, 4 and 8 worker processes on PostgreSQL, against the
same workers claiming with a plain SELECT ... FOR UPDATE (no SKIP LOCKED) as the baseline."""

import multiprocessing
import os
import time
from collections import Counter

from django.db import connections, transaction
from django.utils import timezone

from . import router
from .util import analyze, fmt_ratio, print_table, reset_tables

CLAIM_SIZE = 10
WORKER_TIMEOUT = 300


def claim_skip_locked(alias, count):
    """The project's API: SELECT ... FOR UPDATE SKIP LOCKED, then UPDATE to processing, in one transaction."""
    from apps.core.models import Task

    return [task.pk for task in Task.objects.db_manager(alias).claim(count=count)]


def claim_for_update(alias, count):
    """The baseline: the same statements as claim(), but a plain FOR UPDATE, so workers queue on the same rows."""
    from apps.core.models import Task

    manager = Task.objects.db_manager(alias)
    with transaction.atomic(using=alias):
        tasks = list(manager.pending().order_by("datetime", "pk").select_for_update()[:count])
        if tasks:
            Task._status_rows(alias).filter(pk__in=[task.pk for task in tasks]).update(status=Task.Status.PROCESSING)
    return [task.pk for task in tasks]


METHODS = {"claim() SKIP LOCKED": claim_skip_locked, "FOR UPDATE baseline": claim_for_update}


def worker(alias, method, barrier, results):
    """Claim until no pending task is left; report the ids taken, the empty claims and when it finished."""
    from apps.core.models import Task

    try:
        with router.use(alias):
            connections[alias].ensure_connection()  # connect before the start line
            claim = METHODS[method]
            taken, empty = [], 0
            barrier.wait(timeout=60)
            while True:
                ids = claim(alias, CLAIM_SIZE)
                if ids:
                    taken.extend(ids)
                elif Task.objects.db_manager(alias).pending().exists():
                    empty += 1  # every candidate row was taken by someone else while we waited for its lock
                else:
                    break
            finished = time.monotonic()
            connections[alias].close()
        results.put((taken, empty, finished, None))
    except BaseException as exc:  # report, never hang the parent
        results.put(([], 0, time.monotonic(), f"{type(exc).__name__}: {exc}"))


def fill(alias, tasks):
    from apps.core.models import Task

    reset_tables(alias, [Task])
    now = timezone.now()
    Task.objects.db_manager(alias).bulk_create(
        [
            Task(name=f"task {i}", task_ingestor="bench", datetime=now + timezone.timedelta(microseconds=i))
            for i in range(tasks)
        ],
        batch_size=2000,
    )
    analyze(alias, [Task])


def cpu_ticks():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat") as stat:
            values = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_share(before, after):
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def run_once(alias, method, workers, tasks):
    """{"seconds", "taken", "duplicates", "missing", "empty", "errors"} for `workers` processes claiming `tasks`."""
    from apps.core.models import Task

    fill(alias, tasks)
    connections[alias].close()  # never share a connection with the children
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers + 1)
    results = context.Queue()
    processes = [context.Process(target=worker, args=(alias, method, barrier, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    barrier.wait(timeout=60)
    start, ticks = time.monotonic(), cpu_ticks()
    outcomes = [results.get(timeout=WORKER_TIMEOUT) for _ in processes]
    cpu = busy_share(ticks, cpu_ticks())
    for process in processes:
        process.join(timeout=30)
    taken = Counter(pk for ids, _, _, _ in outcomes for pk in ids)
    processing = Task.objects.db_manager(alias).filter(status=Task.Status.PROCESSING).count()
    return {
        "seconds": max(finished for _, _, finished, _ in outcomes) - start,
        "taken": sum(taken.values()),
        "duplicates": sum(n - 1 for n in taken.values() if n > 1),
        "missing": tasks - len(taken),
        "processing": processing,
        "empty": sum(empty for _, empty, _, _ in outcomes),
        "errors": [error for _, _, _, error in outcomes if error],
        "cpu": cpu,
    }


def fmt_share(share):
    return "n/a" if share is None else f"{share:.0%}"


def report(alias, title, tasks, worker_counts):
    results = {}
    with router.use(alias):
        for workers in worker_counts:
            for method in METHODS:
                results[workers, method] = run_once(alias, method, workers, tasks)
    rows = []
    errors = []
    for workers in worker_counts:
        skip = results[workers, "claim() SKIP LOCKED"]
        base = results[workers, "FOR UPDATE baseline"]
        skip_rate, base_rate = skip["taken"] / skip["seconds"], base["taken"] / base["seconds"]
        rows.append(
            [
                str(workers),
                f"{skip_rate:,.0f}",
                str(skip["duplicates"]),
                str(skip["missing"]),
                f"{base_rate:,.0f}",
                str(base["duplicates"]),
                str(base["empty"]),
                fmt_ratio(skip_rate / base_rate),
                f"{fmt_share(skip['cpu'])} / {fmt_share(base['cpu'])}",
            ]
        )
        for method, outcome in (("claim()", skip), ("baseline", base)):
            errors += [f"ERROR ({workers} workers, {method}): {error}" for error in outcome["errors"]]
            if outcome["processing"] != tasks - outcome["missing"]:
                errors.append(f"ERROR ({workers} workers, {method}): {outcome['processing']} rows are processing")
    print_table(
        title,
        [
            "workers",
            "claim() tasks/s",
            "duplicates",
            "missing",
            "FOR UPDATE tasks/s",
            "duplicates",
            "empty claims",
            "speed-up",
            "CPU busy",
        ],
        rows,
        notes=[
            f"{tasks:,} pending tasks per run, claimed {CLAIM_SIZE} at a time; each worker is a process with its own",
            "connection, all released together. tasks/s = tasks / time until the last worker found no pending task.",
            "duplicates: tasks handed out more than once (must be 0). missing: tasks never handed out (must be 0).",
            "empty claims: baseline claims that came back empty because the rows they waited for were taken.",
            "CPU busy: share of the whole machine's CPU time in use during the claim() / baseline run (all its",
            f"processes, the server's included, and anything else running; {os.cpu_count()} CPUs).",
            *errors,
        ],
    )
    return results
