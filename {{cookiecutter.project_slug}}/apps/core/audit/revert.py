"""`obj.history.revert_to(point, fields=None)`: save a row back to its values at an earlier point.

The row is locked and read again, given the values the history says it held at the point, validated as a form would
(`full_clean()`: field validation, uniqueness, the model's own `clean()`), and saved: all in one transaction. The
save is an ordinary audited save whose entry says what it was: action "revert" and
`"reverted_to": {"at": <that entry's time>, "index": <its index>}`. Any refusal (a field the model no longer has or
that a revert does not write, a value that no longer validates, a unique clash) is one error and writes nothing.

Only tracked fields a form could edit are reverted (`editable`): fields the system keeps (a soft delete's
date_deleted, anything marked editable=False) change through their own methods, `restore()` for instance.
"""

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.db import models, router, transaction

from . import entries

if TYPE_CHECKING:
    from .reads import HistoryReads, Point

# (instance, {"reverted_to": ...}) while that instance's revert is being saved.
_reverting: contextvars.ContextVar[tuple[models.Model, dict[str, Any]] | None] = contextvars.ContextVar(
    "audit_reverting", default=None
)


def revertable_fields(model: type[models.Model]) -> dict[str, models.Field]:
    """{name: field} of the fields a revert writes: the tracked ones a form could edit."""
    return {field.name: field for field in entries.tracked_fields(model) if field.editable}


def revert_to(history: "HistoryReads", point: "Point", fields: Sequence[str] | None = None) -> models.Model:
    """See the module's docstring. Returns the row, saved (the live instance is refreshed from it when there is
    one)."""
    from .reads import python_value

    instance = history.instance
    model = history.model
    if instance is None:
        raise ValueError(
            f"{model._meta.label} {history.pk!r} was deleted for real: there is no row to revert. "
            "Build one from history.as_of() and save it, if it should come back."
        )
    if isinstance(fields, str):
        raise TypeError("fields is a list of field names, not one string.")
    state, index = history._state_at(point)
    if state is None or index is None:
        raise ValueError(
            f"{model._meta.label} {history.pk!r} did not exist yet at {point}: there is nothing to revert to."
        )
    revertable = revertable_fields(model)
    if fields is None:
        names = [name for name in revertable if name in state]
    else:
        unknown = [name for name in fields if name not in revertable]
        if unknown:
            raise ValueError(
                f"Cannot revert {', '.join(map(repr, unknown))} of {model._meta.label}: no such field is tracked and "
                f"editable now (revertable: {', '.join(revertable) or 'none'})."
            )
        missing = [name for name in fields if name not in state]
        if missing:
            raise ValueError(
                f"The history of {model._meta.label} {history.pk!r} records no value of "
                f"{', '.join(map(repr, missing))} at that point."
            )
        names = list(dict.fromkeys(fields))
    point_entry = history[index]  # type: ignore[index]
    reverted_to = {"at": point_entry.get("at"), "index": index}
    using = router.db_for_write(model, instance=instance)
    with transaction.atomic(using=using):
        row = model._base_manager.db_manager(using).select_for_update().get(pk=instance.pk)
        for name in names:
            field = revertable[name]
            setattr(row, field.attname, python_value(field, state[name]))
        row.full_clean()
        with _labelled(row, reverted_to):
            row.save(using=using)
    if instance is not row:
        instance.refresh_from_db(using=using)
    return row


@contextlib.contextmanager
def _labelled(instance: models.Model, reverted_to: dict[str, Any]) -> Iterator[None]:
    token = _reverting.set((instance, {"reverted_to": reverted_to}))
    try:
        yield
    finally:
        _reverting.reset(token)


def labelled(instance: models.Model, entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` (an update entry of `instance`) as a "revert" entry naming its point, while that instance's revert is
    being saved; unchanged otherwise (a receiver saving another row meanwhile records a plain update)."""
    reverting = _reverting.get()
    if reverting is None or reverting[0] is not instance:
        return entry
    return {**entry, "action": entries.REVERT, **reverting[1]}
