"""`python manage.py redact_history app.Model PK --fields ... --reason ...`: erasure from the audit trail (see
apps/core/audit/erasure.py)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from apps.core.audit import erasure

from ._audit_arguments import audited_model


class Command(BaseCommand):
    help = (
        "Replace the recorded values of the named fields in the history of one row (in the row and in the archive), "
        'or of every row of the model with --all, with a marker; each history changed gets a "redact" entry '
        "naming the fields and the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", metavar="APP.MODEL")
        parser.add_argument("pk", nargs="?", help="The row's primary key (or --all).")
        parser.add_argument("--fields", nargs="+", required=True, help="The fields whose recorded values go.")
        parser.add_argument("--reason", required=True, help="Why: recorded in the redact entry.")
        parser.add_argument(
            "--all", dest="every_row", action="store_true", help="Every row of the model, alive or deleted."
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(
        self,
        *args: Any,
        model: str,
        pk: str | None,
        fields: list[str],
        reason: str,
        every_row: bool,
        database: str,
        **options: Any,
    ) -> None:
        chosen = audited_model(model)
        if (pk is None) != every_row:
            raise CommandError("Name one row by its primary key, or every row with --all (not both).")
        try:
            redacted = erasure.redact(chosen, pk, fields, reason, using=database)
        except ValidationError:  # a key this model's primary key cannot hold
            raise CommandError(f"{pk!r} is not a primary key of {chosen._meta.label}.") from None
        except ValueError as error:
            raise CommandError(str(error)) from None
        scope = "every row" if every_row else f"row {pk}"
        self.stdout.write(
            f"Redacted {', '.join(erasure.redaction_fields(chosen, fields))} in {redacted} recorded values of "
            f"{chosen._meta.label} ({scope})."
        )
