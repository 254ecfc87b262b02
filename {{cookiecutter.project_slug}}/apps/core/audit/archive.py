"""ArchivedHistory: where the history of an audited row goes when it leaves the row.

Two kinds of record, one table:

- a **deleted row** (`deleted=True`): written in the transaction that deletes the row for real, whatever the path
  (see `deletes.py`). It keeps the row's label and key, a short text representation, the last stored values of its
  tracked fields, and its complete in-row history followed by a final "delete" entry.
- a **chunk** of a long history (`deleted=False`): the oldest entries of a row whose in-row history outgrew the
  model's `history_row_limit` (see `retention.py`), so that a save's cost stays flat however long the history gets.

A row's complete history is its archived records, oldest first (by id: records are only ever appended), followed by
its in-row history; `history_of()` (see `sequence.py`) reads them as one sequence. The primary key is kept as its
stored form, as text, so that integer, UUID and string keys share one column.
"""

from collections.abc import Callable

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .expressions import column_of


class ArchivedHistory(models.Model):
    id = models.BigAutoField(primary_key=True)
    model_label = models.CharField(_("model"), max_length=200, help_text=_('The row\'s model, as "app_label.model".'))
    object_pk = models.CharField(_("primary key"), max_length=255, help_text=_("The row's key, as stored, as text."))
    object_repr = models.CharField(_("row"), max_length=200, blank=True)
    deleted = models.BooleanField(
        _("deleted row"),
        default=False,
        help_text=_(
            'The whole history of a row deleted for real, ending with its "delete" entry (else a chunk of '
            "the oldest entries of a long history)."
        ),
    )
    values = models.JSONField(
        _("last values"), null=True, blank=True, help_text=_("The tracked fields' last stored values (deleted rows).")
    )
    entries = models.JSONField(_("entries"), default=list)
    entry_count = models.PositiveIntegerField(_("entries"), default=0)
    first_at = models.DateTimeField(_("first entry at"), null=True, blank=True)
    last_at = models.DateTimeField(_("last entry at"), null=True, blank=True, db_index=True)
    archived_at = models.DateTimeField(_("archived at"), default=timezone.now)

    class Meta:
        app_label = "core"
        verbose_name = _("archived history")
        verbose_name_plural = _("archived histories")
        ordering = ["id"]
        # One row's records in order (history_of), and a model's records (the admin, prune_history).
        indexes = [models.Index(fields=["model_label", "object_pk", "id"], name="core_archive_row_idx")]

    def __str__(self):
        kind = _("deleted") if self.deleted else _("archived entries of")
        return f"{kind} {self.model_label} {self.object_pk}"


def insert_columns(quote: Callable[[str], str]) -> str:
    """The archive's columns an INSERT writes (every one but the key), quoted, in the model's field order: the order
    in which the archiving statements (deletes.py, retention.py) select their values."""
    return ", ".join(
        quote(column_of(field)) for field in ArchivedHistory._meta.concrete_fields if not field.primary_key
    )
