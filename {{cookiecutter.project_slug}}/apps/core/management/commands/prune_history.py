"""`python manage.py prune_history --before DATE`: retention for the audit trail (see apps/core/audit/retention.py)."""

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS
from django.utils import dateparse, timezone

from apps.core.audit import retention
from apps.core.models import ArchivedHistory

from ._audit_arguments import audited_model, audited_models


def parse_before(text: str) -> datetime.datetime:
    """A date (midnight, in the project's time zone) or a date and time; one clear error otherwise."""
    try:
        moment = dateparse.parse_datetime(text)
        if moment is None:
            day = dateparse.parse_date(text)
            moment = None if day is None else datetime.datetime.combine(day, datetime.time())
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--before {text!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM).")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now():
        raise CommandError(f"--before {text} is in the future: pruning would remove entries not yet written.")
    return moment


class Command(BaseCommand):
    help = (
        "Remove the history entries older than a date: archived records of deleted rows, archived chunks of long "
        'histories and entries still in the rows (each row shortened gets a "prune" entry). Runs in batches, each '
        "in its own transaction; safe to run from cron or as a periodic task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="Remove entries older than this date (YYYY-MM-DD).")
        parser.add_argument(
            "--model", action="append", default=[], metavar="APP.MODEL", help="Only this model (repeatable)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would be removed; change nothing.")
        parser.add_argument(
            "--batch-size", type=int, default=retention.PRUNE_BATCH, help="Rows or records per transaction."
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(
        self,
        *args: Any,
        before: str,
        model: list[str],
        dry_run: bool,
        batch_size: int,
        database: str,
        **options: Any,
    ) -> None:
        moment = parse_before(before)
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {batch_size}.")
        if model:
            chosen = [audited_model(label) for label in model]
            labels = [m._meta.label_lower for m in chosen]
        else:
            chosen = audited_models()
            archived = ArchivedHistory.objects.using(database).values_list("model_label", flat=True).distinct()
            labels = sorted({*(m._meta.label_lower for m in chosen), *archived})
        report = retention.prune(moment, labels, chosen, using=database, dry_run=dry_run, batch_size=batch_size)
        verb = "Would remove" if dry_run else "Removed"
        total = 0
        for label, counts in report.items():
            if not any(counts.values()):
                continue
            total += counts["entries"]
            rows = "would get" if dry_run else "got"
            self.stdout.write(
                f"{label}: {verb.lower()} {counts['entries']} entries ({counts['records']} archived records whole); "
                f'{counts["rows"]} rows {rows} a "prune" entry'
            )
        self.stdout.write(f"{verb} {total} entries older than {retention.iso(moment)}.")
