"""`python manage.py run_tasks`: the worker process of the service (see apps/core/tasks/worker/ and the README)."""

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from apps.core.tasks.ingestors import registered_ingestors
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
        "Run tasks: claim the pending tasks of the registered ingestors (all, or those named with --ingestor), run "
        "each in its ingestor, and complete or fail it. Stops on SIGTERM/SIGINT after the running tasks finish."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ingestor",
            action="append",
            dest="ingestors",
            metavar="NAME",
            help="serve only this ingestor's tasks (repeat for several; default: every registered ingestor)",
        )
        parser.add_argument(
            "--concurrency", type=_number(int, 1, False), default=1, help="tasks run at once, in threads (default 1)"
        )
        parser.add_argument(
            "--burst", action="store_true", help="exit (code 0) once no pending task of its ingestors is left"
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

    def handle(self, *args, **options):
        registered = registered_ingestors()
        names = list(dict.fromkeys(options["ingestors"] or sorted(registered)))
        if not registered:
            raise CommandError(
                "No ingestor is registered: add one with @ingestor('name') in an app's ingestors.py.", returncode=2
            )
        unknown = [name for name in names if name not in registered]
        if unknown:
            raise CommandError(
                f"No ingestor is registered as {', '.join(map(repr, unknown))} "
                f"(registered: {', '.join(sorted(registered))}).",
                returncode=2,
            )
        worker = Worker(
            {name: registered[name] for name in names},
            concurrency=options["concurrency"],
            burst=options["burst"],
            lease=options["lease"],
            max_attempts=options["max_attempts"],
            stop_timeout=options["stop_timeout"],
            poll_interval=options["poll_interval"],
            using=options["database"],
        )
        self.stdout.write(
            f"Worker {worker.identity} serving {', '.join(names)} (concurrency {worker.concurrency}, lease "
            f"{worker.lease:g} s, max attempts {worker.max_attempts}{', burst' if worker.burst else ''})."
        )
        self.stdout.flush()
        code = worker.run()
        if code:
            sys.exit(code)
