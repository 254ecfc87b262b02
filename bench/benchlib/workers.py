"""Table 6: task workers end to end on PostgreSQL. The baked project's `run_tasks` worker against django-tasks-db's
`db_worker` and procrastinate's worker, each running the same no-op job with 1, 2 and 4 worker processes, and the
time from enqueueing a job to its start with one idle worker. The same no-op `@task` function of Django's Tasks
framework runs both through the project's backend (run_tasks) and through django-tasks-db (db_worker): the same API
and the same function, so that comparison is exact. Last, the cost of a retry (a function failing once).

Each system runs as its users run it: its own worker loop in its own processes (forked from this one, after
Django is set up; each opens its own connections), its own enqueueing API, its defaults except where noted. A run
times everything from the first enqueue to the moment no job is left: enqueueing `tasks` jobs one by one (as a web
process would) while the workers, started and idle beforehand, take and finish them.
"""

import importlib.util
import multiprocessing
import os
import signal
import statistics
import time

from django.db import connections

from . import router
from .util import print_table

WORKER_START_TIMEOUT = 60
RUN_TIMEOUT = 600


class RunTasks:
    """The baked project's worker: `python manage.py run_tasks` (apps.core.tasks.worker.Worker), defaults."""

    label = "run_tasks"

    def __init__(self, alias, conninfo):
        self.alias = alias

    def problem(self):
        return None

    def prepare(self):
        from apps.core.models import Task

        Task.objects.using(self.alias).all().delete()

    def open(self):
        pass

    def close(self):
        pass

    def enqueue(self, key, kind="noop"):
        from apps.core.models import Task

        Task.objects.using(self.alias).create(name=key, task_ingestor=f"bench_{kind}")

    def remaining(self):
        from apps.core.models import Task

        return Task.objects.using(self.alias).count()

    def failed(self):
        from apps.core.models import Task

        return Task.objects.using(self.alias).filter(status=Task.Status.FAILED).count()

    def work(self, concurrency=1):
        from apps.core.ingestors import registered_ingestors
        from apps.core.tasks.worker import Worker

        ingestors = {name: entry for name, entry in registered_ingestors().items() if name.startswith("bench_")}
        Worker(ingestors, concurrency=concurrency, using=self.alias).run()


class RunTasksFunctions(RunTasks):
    """The baked project's backend of Django's Tasks framework (apps.core.tasks.backend): the very @task functions
    db_worker runs, enqueued with `.using(backend="project")`, run by run_tasks (defaults)."""

    label = "run_tasks (@task)"
    compared_with = None

    def problem(self):
        from benchapp import jobs

        if jobs.task is None:
            return "needs Django 6's django.tasks (or the django-tasks backport)"
        return None

    def prepare(self):
        from apps.core.models import Task
        from apps.core.tasks.models import TaskResultRecord

        Task.objects.using(self.alias).all().delete()
        TaskResultRecord.objects.using(self.alias).all().delete()

    def open(self):
        from benchapp import jobs

        # Bound to the project's backend once, as a module-level `@task(backend="project")` would be.
        self.jobs = {name: getattr(jobs, name).using(backend="project") for name in ("noop", "stamp", "fail_once")}

    def enqueue(self, key, kind="noop"):
        if kind == "stamp":
            self.jobs["stamp"].enqueue(key)
        else:
            self.jobs[kind].enqueue()

    def remaining(self):
        from apps.core.models import Task

        return Task.objects.using(self.alias).exclude(status=Task.Status.FAILED).count()

    def work(self, concurrency=1):
        import logging

        from apps.core.tasks.claiming import ALL_QUEUES
        from apps.core.tasks.worker import Worker

        logging.getLogger("apps.core.tasks").setLevel(logging.ERROR)  # no line per retry on the console
        Worker({}, queues=ALL_QUEUES, concurrency=concurrency, using=self.alias).run()


class DjangoTasksDb:
    """django-tasks-db's `manage.py db_worker` (Django's task framework, database backend), defaults except the
    random start-up delay, turned off (--no-startup-delay) so that every worker is polling when the run starts."""

    label = "django-tasks-db"
    # The exact comparison: the same @task function through the same API.
    compared_with = RunTasksFunctions.label

    def __init__(self, alias, conninfo):
        self.alias = alias

    def problem(self):
        if importlib.util.find_spec("django_tasks_db") is None:
            return "django-tasks-db is not installed (bench/requirements.txt)"
        from benchapp import jobs

        if jobs.task is None:
            return "needs Django 6's django.tasks (or the django-tasks backport)"
        return None

    def prepare(self):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.using(self.alias).all().delete()

    def open(self):
        pass

    def close(self):
        pass

    def enqueue(self, key, kind="noop"):
        from benchapp import jobs

        if kind == "stamp":
            jobs.stamp.enqueue(key)
        else:
            jobs.noop.enqueue()

    def remaining(self):
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.using(self.alias).filter(status__in=["READY", "RUNNING"]).count()

    def failed(self):
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.using(self.alias).filter(status="FAILED").count()

    def work(self, concurrency=1):
        from django.core.management import call_command

        call_command("db_worker", "--no-startup-delay", verbosity=0)


class Procrastinate:
    """procrastinate's worker (`App.run_worker`, what `procrastinate worker` runs), defaults except
    delete_jobs="successful", so that a finished job is deleted as run_tasks deletes a completed task."""

    label = "procrastinate"

    def __init__(self, alias, conninfo):
        self.alias = alias
        self.conninfo = conninfo
        self.app = None

    def problem(self):
        if importlib.util.find_spec("procrastinate") is None:
            return "procrastinate is not installed (bench/requirements.txt)"
        return None

    def _table_exists(self):
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            return cursor.fetchone()[0]

    def prepare(self):
        if not self._table_exists():
            from benchapp.jobs import procrastinate_app

            app = procrastinate_app(self.conninfo)
            with app.open():
                app.schema_manager.apply_schema()
        with connections[self.alias].cursor() as cursor:
            cursor.execute("DELETE FROM procrastinate_jobs")

    def open(self):
        from benchapp.jobs import procrastinate_app

        self.app = procrastinate_app(self.conninfo).open()

    def close(self):
        self.app.close()
        self.app = None

    def enqueue(self, key, kind="noop"):
        if kind == "stamp":
            self.app.tasks["bench.stamp"].defer(key=key)
        else:
            self.app.tasks["bench.noop"].defer()

    def remaining(self):
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
            return cursor.fetchone()[0]

    def failed(self):
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'")
            return cursor.fetchone()[0]

    def work(self, concurrency=1):
        from benchapp.jobs import procrastinate_app

        procrastinate_app(self.conninfo).run_worker(queues=["bench"], delete_jobs="successful")


SYSTEMS = (RunTasks, RunTasksFunctions, DjangoTasksDb, Procrastinate)


def _child(system, ready, concurrency):
    with router.use(system.alias):
        ready.put(os.getpid())
        system.work(concurrency)


class Workers:
    """`count` worker processes of `system` (each running `concurrency` jobs at once), started and idle until
    stopped."""

    def __init__(self, system, count, concurrency=1, settle=1.0):
        connections.close_all()  # never share a connection with the children
        context = multiprocessing.get_context("fork")
        ready = context.Queue()
        self.processes = [context.Process(target=_child, args=(system, ready, concurrency)) for _ in range(count)]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            ready.get(timeout=WORKER_START_TIMEOUT)
        time.sleep(settle)  # let each reach its waiting loop (connected, LISTENing where it does)

    def memory(self):
        """Resident memory of the worker processes together, in MB (None where /proc is missing)."""
        total = 0
        for process in self.processes:
            try:
                with open(f"/proc/{process.pid}/status") as status:
                    total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError):
                return None
        return total / 1024

    def stop(self):
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def wait_until_done(system, timeout=RUN_TIMEOUT):
    deadline = time.monotonic() + timeout
    while system.remaining():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{system.label}: jobs still waiting after {timeout} s")
        time.sleep(0.01)


def throughput(system, workers, tasks, concurrency=1, kind="noop", settle=1.0):
    """Jobs per second from the first enqueue until no job is left, with `workers` processes."""
    system.prepare()
    pool = Workers(system, workers, concurrency, settle)
    try:
        system.open()
        start = time.perf_counter()
        for number in range(tasks):
            system.enqueue(f"job {number}", kind)
        wait_until_done(system)
        seconds = time.perf_counter() - start
        memory = pool.memory()
        system.close()
    finally:
        pool.stop()
    return {"per_second": tasks / seconds, "failed": system.failed(), "memory": memory}


def latency(system, samples, settle=1.0):
    """Seconds from an enqueue's commit to the job's start, with one idle worker: each sample."""
    from benchapp.models import JobStart

    system.prepare()
    JobStart.objects.using(system.alias).all().delete()
    pool = Workers(system, 1, settle=settle)
    found = []
    try:
        system.open()
        for number in range(samples):
            key = f"stamp {number}"
            system.enqueue(key, "stamp")
            enqueued = time.time()
            deadline = time.monotonic() + 10
            while not (started := JobStart.objects.using(system.alias).filter(key=key).values_list("at", flat=True)):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{system.label}: job {key!r} did not start within 10 s")
                time.sleep(0.002)
            found.append(started[0] - enqueued)
            time.sleep(0.05 + (number % 5) * 0.037)  # enqueue at different moments of a polling cycle
        system.close()
    finally:
        pool.stop()
    return found


def report(alias, title, conninfo, tasks, worker_counts, samples, quick=False):
    """Print table 6; return ({(label, workers): jobs per second}, {label: median enqueue-to-start seconds})."""
    systems = [system_class(alias, conninfo) for system_class in SYSTEMS]
    ours = systems[0]
    settle = 0.5 if quick else 1.0
    per_second, latencies, notes = {}, {}, []
    threads = {}
    with router.use(alias):
        for system in systems:
            problem = system.problem()
            if problem:
                notes.append(f"{system.label}: skipped, {problem}.")
                continue
            throughput(
                system, 1, max(tasks // 4, 20), settle=settle
            )  # warm-up, not reported: first connections, plans
            for workers in worker_counts:
                outcome = throughput(system, workers, tasks, settle=settle)
                per_second[system.label, workers] = outcome["per_second"]
                if outcome["failed"]:
                    notes.append(f"ERROR ({system.label}, {workers} workers): {outcome['failed']} jobs failed")
            latencies[system.label] = latency(system, samples, settle)
        functions, retry = systems[1], None
        if functions.problem() is None:
            retried = max(tasks // 4, 20)
            retry = {
                kind: throughput(functions, 1, retried, kind=kind, settle=settle)["per_second"]
                for kind in ("noop", "fail_once")
            }
        sleepers = max(tasks // 4, 20)
        for workers in worker_counts:
            threads["noop", workers] = throughput(ours, 1, tasks, concurrency=workers, settle=settle)
            for processes, concurrency in ((workers, 1), (1, workers)):
                threads["sleep", processes, concurrency] = throughput(
                    ours, processes, sleepers, concurrency=concurrency, kind="sleep", settle=settle
                )
    rows = []
    for system in systems:
        if (system.label, worker_counts[0]) not in per_second:
            continue
        cells = [f"{system.label} (N processes)"]
        base = getattr(system, "compared_with", ours.label)
        for workers in worker_counts:
            rate = per_second[system.label, workers]
            ratio = (
                ""
                if base is None or (base, workers) not in per_second
                else f" ({per_second[base, workers] / rate:.2f}x)"
            )
            cells.append(f"{rate:,.0f}{ratio}")
        found = latencies[system.label]
        cells.append(f"{statistics.median(found) * 1000:.1f} ms / {max(found) * 1000:.1f} ms")
        rows.append(cells)
        if system is ours:
            rows.append(
                [
                    "run_tasks (1 process, N threads)",
                    *(f"{threads['noop', n]['per_second']:,.0f}" for n in worker_counts),
                    "",
                ]
            )
    print_table(
        title,
        ["worker", *(f"N={workers} jobs/s" for workers in worker_counts), "enqueue to start, median / max"],
        rows,
        notes=[
            f"{tasks:,} no-op jobs per run (after a warm-up run), enqueued one by one while N worker processes",
            "(started beforehand, idle) run them; jobs/s = jobs / time from the first enqueue until none is left.",
            "(Nx): run_tasks' rate over that one's; django-tasks-db's against run_tasks (@task), the same no-op @task",
            "function through Django's API to each backend. run_tasks (1 process, N threads): --concurrency N.",
            f"Latency: {samples} jobs enqueued one at a time for one idle worker; the job stamps its start time.",
            "run_tasks and procrastinate wait on LISTEN/NOTIFY; db_worker polls (every 1 s by default).",
            *_retry_note(retry, max(tasks // 4, 20)),
            *notes,
        ],
    )
    print_table(
        f"{title.split(' - ')[0]}: threads or processes, for jobs that wait 10 ms (I/O)",
        [
            "run_tasks",
            *(f"N={workers} jobs/s" for workers in worker_counts),
            *(f"N={workers} memory" for workers in worker_counts),
        ],
        [
            [
                label,
                *(f"{threads['sleep', *shape(n)]['per_second']:,.0f}" for n in worker_counts),
                *(_megabytes(threads["sleep", *shape(n)]["memory"]) for n in worker_counts),
            ]
            for label, shape in (
                ("N processes", lambda n: (n, 1)),
                ("1 process, N threads (--concurrency N)", lambda n: (1, n)),
            )
        ],
        notes=[
            f"{sleepers:,} jobs that sleep 10 ms, as a job waiting on HTTP or a file does. memory: resident memory of",
            "the worker processes together. Threads overlap waiting as processes do, in one process's memory;",
            "CPU-bound jobs need processes (see the no-op rows above: N threads share one interpreter lock).",
        ],
    )
    return per_second, {label: statistics.median(found) for label, found in latencies.items()}


def _retry_note(retry, count):
    """The cost of a retry: a function failing once and retried at once (retry_backoff 0) against the no-op."""
    if retry is None:
        return []
    extra = 1 / retry["fail_once"] - 1 / retry["noop"]
    return [
        f"A retry: {count:,} @task functions that fail once (retried at once) run at {retry['fail_once']:,.0f}/s",
        f"on one run_tasks process, against {retry['noop']:,.0f}/s for the no-op: {extra * 1000:.2f} ms per retry",
        f"({retry['noop'] / retry['fail_once']:.2f}x the no-op's whole run).",
    ]


def _megabytes(value):
    return "n/a" if value is None else f"{value:,.0f} MB"
