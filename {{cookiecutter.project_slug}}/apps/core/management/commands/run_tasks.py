"""`python manage.py run_tasks`: the worker process of the service (see apps/core/tasks/worker/ and the README)."""

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from apps.core.models import Task
from apps.core.tasks.backend import DatabaseBackend
from apps.core.tasks.claiming import ALL_QUEUES
from apps.core.tasks.framework import task_backends
from apps.core.tasks.ingestors import registered_ingestors
from apps.core.tasks.schedules import registered_schedules
from apps.core.tasks.worker import Worker


def _number(kind, minimum, strict):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'more than' if strict else 'at least'} {minimum}, not {text}")
        return value

    return parse


class Command(BaseCommand):
    help = (
        "Run tasks: claim the pending tasks of the registered ingestors and of @task functions (all, or those named "
        "with --ingestor and --queue), run each, and complete, retry or fail it; enqueue the periodic schedules' "
        "slots. Stops on SIGTERM/SIGINT after the running tasks finish."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ingestor",
            action="append",
            dest="ingestors",
            metavar="NAME",
            help="serve this ingestor's tasks (repeat for several). With --ingestor or --queue, only what they name "
            "is served; with neither, every registered ingestor and every queue",
        )
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            metavar="NAME",
            help="serve the @task functions enqueued in this queue (repeat for several)",
        )
        parser.add_argument(
            "--no-scheduler",
            action="store_false",
            dest="scheduler",
            help="enqueue no periodic work (other workers do); a --burst worker never does",
        )
        parser.add_argument(
            "--concurrency", type=_number(int, 1, False), default=1, help="tasks run at once, in threads (default 1)"
        )
        parser.add_argument(
            "--burst",
            action="store_true",
            help="exit (code 0) once no task it serves is ready to run now (tasks deferred to later stay queued)",
        )
        parser.add_argument(
            "--lease",
            type=_number(float, 0, True),
            default=300.0,
            metavar="SECONDS",
            help="lease of a claimed task, renewed while it runs; another worker claims it once expired (300)",
        )
        parser.add_argument(
            "--max-attempts",
            type=_number(int, 1, False),
            default=3,
            metavar="N",
            help="claims a task gets in all before an expired lease fails it (default 3)",
        )
        parser.add_argument(
            "--stop-timeout",
            type=_number(float, 0, False),
            default=30.0,
            metavar="SECONDS",
            help="after SIGTERM/SIGINT, how long running tasks may take to finish (default 30)",
        )
        parser.add_argument(
            "--poll-interval",
            type=_number(float, 0, True),
            default=1.0,
            metavar="SECONDS",
            help="how often to look for tasks where PostgreSQL's LISTEN/NOTIFY is not available (default 1)",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias (default: 'default')")

    def handle(self, *args: Any, **options: Any) -> None:
        registered = registered_ingestors()
        named_ingestors, queues = options["ingestors"], options["queues"]
        if named_ingestors or queues:
            names = list(dict.fromkeys(named_ingestors or []))
            queues = tuple(dict.fromkeys(queues)) if queues else None
        else:
            names, queues = sorted(registered), ALL_QUEUES
        unknown = [name for name in names if name not in registered]
        if unknown:
            raise CommandError(
                f"No ingestor is registered as {', '.join(map(repr, unknown))} "
                f"(registered: {', '.join(sorted(registered)) or 'none'}).",
                returncode=2,
            )
        if queues not in (None, ALL_QUEUES):
            _check_queues(queues)
        _check_migrated(options["database"])
        schedules = list(registered_schedules().values()) if options["scheduler"] else []
        worker = Worker(
            {name: registered[name] for name in names},
            queues=queues,
            schedules=schedules,
            concurrency=options["concurrency"],
            burst=options["burst"],
            lease=options["lease"],
            max_attempts=options["max_attempts"],
            stop_timeout=options["stop_timeout"],
            poll_interval=options["poll_interval"],
            using=options["database"],
        )

        def announce() -> None:  # once SIGTERM stops the worker gracefully: a supervisor may signal it from then on
            if options["verbosity"]:
                self.stdout.write(_banner(worker, names))
                self.stdout.flush()

        with _only_errors_logged(options["verbosity"] == 0):
            code = worker.run(ready=announce)
        if code:
            sys.exit(code)


def _check_migrated(using: str) -> None:
    """One sentence rather than the traceback of the worker's first query, when the database has not been migrated."""
    table = Task._meta.db_table
    if table not in connections[using].introspection.table_names():
        raise CommandError(f"The database has no table {table}: run `python manage.py migrate` first.")


@contextlib.contextmanager
def _only_errors_logged(quiet: bool) -> Iterator[None]:
    """At -v 0, nothing but errors from the worker and the task framework while the worker runs."""
    loggers = (
        [logging.getLogger(name) for name in ("apps.core.tasks", "django.tasks", "django_tasks")] if quiet else []
    )
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _banner(worker, names):
    served = []
    if names:
        served.append(", ".join(names))
    if worker.queues == ALL_QUEUES:
        served.append("@task functions of every queue")
    elif worker.queues:
        served.append(f"@task functions of queue {', '.join(worker.queues)}")
    details = [f"concurrency {worker.concurrency}", f"lease {worker.lease:g} s", f"max attempts {worker.max_attempts}"]
    if worker.scheduler is not None:
        count = len(worker.scheduler.schedules)
        details.append(f"{count} schedule{'s' if count != 1 else ''}")
    if worker.burst:
        details.append("burst")
    return f"Worker {worker.identity} serving {' and '.join(served)} ({', '.join(details)})."


def _check_queues(queues):
    """Refuse a queue that none of the project's DatabaseBackend backends accepts (their QUEUES setting)."""
    ours = [task_backends[alias] for alias in task_backends.settings]
    ours = [backend for backend in ours if isinstance(backend, DatabaseBackend)]
    if not ours or any(not backend.queues for backend in ours):
        return
    allowed = set().union(*(backend.queues for backend in ours))
    unknown = [name for name in queues if name not in allowed]
    if unknown:
        raise CommandError(
            f"No task backend accepts the queue {', '.join(map(repr, unknown))} "
            f"(TASKS' QUEUES: {', '.join(sorted(allowed))}).",
            returncode=2,
        )
