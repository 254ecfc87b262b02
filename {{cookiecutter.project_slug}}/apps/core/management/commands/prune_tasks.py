"""`python manage.py prune_tasks [--min-age-days N] [--dry-run]`: remove the results of @task functions that finished
longer ago than the retention period (TASKS' OPTIONS "result_retention_days", default 7), with the failed Task rows
that held them, and the records of past periodic slots (the latest of each schedule is kept: it says the slot ran)."""

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from apps.core.tasks.backend import DEFAULT_RESULT_RETENTION_DAYS, DatabaseBackend
from apps.core.tasks.framework import task_backends
from apps.core.tasks.models import PeriodicRun, TaskResultRecord

from .run_tasks import _number


class Command(BaseCommand):
    help = (
        "Remove the results of @task functions finished more than N days ago (default: TASKS' OPTIONS "
        "result_retention_days), the failed tasks that held them, and the records of past periodic slots."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age-days",
            type=_number(float, 0, False),
            metavar="N",
            help="remove what finished more than N days ago (default: the retention of the default backend)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would be removed; remove nothing")
        parser.add_argument("--database", help="database alias (default: the backend's, else 'default')")

    def handle(self, *args: Any, **options: Any) -> None:
        backend = _our_backend()
        days = options["min_age_days"]
        if days is None:
            days = backend.result_retention_days if backend is not None else DEFAULT_RESULT_RETENTION_DAYS
        using = options["database"] or (backend.database if backend is not None else DEFAULT_DB_ALIAS)
        before = timezone.now() - datetime.timedelta(days=days)
        results = TaskResultRecord.objects.using(using).expired(days)
        runs = PeriodicRun.objects.using(using).superseded().filter(slot__lt=before)
        if options["dry_run"]:
            self.stdout.write(
                f"Would remove {results.count()} task result(s) finished more than {days:g} day(s) ago and "
                f"{runs.count()} periodic slot record(s) (dry run: nothing removed)."
            )
            return
        with transaction.atomic(using=using):
            # The failed Task rows holding results go with them (on_delete=CASCADE).
            removed_results = results.delete()[1].get(TaskResultRecord._meta.label, 0)
            removed_runs = runs.delete()[0]
        if options["verbosity"]:
            self.stdout.write(
                f"Removed {removed_results} task result(s) finished more than {days:g} day(s) ago and "
                f"{removed_runs} periodic slot record(s)."
            )


def _our_backend():
    """The default task backend when it is this project's (else None)."""
    backend = task_backends["default"] if "default" in task_backends.settings else None
    return backend if isinstance(backend, DatabaseBackend) else None
