"""Reading a history: the row as it was at a moment, its successive versions, what changed between two points.

The methods live on the history value itself (`obj.history`, `MyModel.history_of(pk)`), never on the model, so no
name can clash with a field of a user's model:

    obj.history.as_of(when)        # an unsaved instance with the values the row held at `when`; None before it existed
    obj.history.versions()         # (entry, {field: value}) for each state, oldest first, lazily
    obj.history.diff(a, b)         # {field: {"old": ..., "new": ...}} between two points (datetimes or entry indexes)
    obj.history.revert_to(point)   # save the row back to a point (see revert.py)

`HistoryReads` works over any sequence of entries that has `model`, `pk` and `instance` (the live row, or None once it
was deleted for real); `HistoryList` is the value of `obj.history`, a list of the entries still in the row. A row
whose oldest entries were moved to the archive (its in-row history does not start with "create") is read through
`MyModel.history_of(pk)` when a read needs the older part, so `as_of` of an early date stays exact.

An entry that is not what the audit trail writes (a string, an object without "changes", a time in another
format: planted by hand-written SQL or an old data migration) is skipped by every read, never an error.
"""

import base64
import copy
import datetime
import re
from collections.abc import Iterator, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.dateparse import parse_datetime

from . import entries

# A moment as the audit trail writes it ("at"): ISO-8601 in UTC with six decimals, so that comparing the text
# compares the moments.
_MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

Point = datetime.datetime | int


def moment(when: datetime.datetime) -> str:
    """`when` as entries spell "at"; a naive datetime is refused (it names no moment)."""
    if not isinstance(when, datetime.datetime):
        raise TypeError(f"A point in a history is a timezone-aware datetime or an entry index, not {when!r}.")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{when!r} is a naive datetime: give a timezone-aware one (django.utils.timezone.now()).")
    return when.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def readable(entry: Any) -> bool:
    """Whether `entry` is one the audit trail writes: an object with a time ("at"), an action and changes."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("action"), str)
        and isinstance(entry.get("changes"), dict)
        and entry_moment(entry) is not None
    )


def entry_moment(entry: dict[str, Any]) -> str | None:
    """The entry's "at" as the trail spells it (ISO-8601 in UTC, six decimals), so that times compare as text; an
    aware time spelled otherwise (an old data migration's) is respelled; None when there is no such time."""
    at = entry.get("at")
    if not isinstance(at, str):
        return None
    if _MOMENT.match(at):
        return at
    try:
        parsed = parse_datetime(at)
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return moment(parsed)


def apply(state: dict[str, Any], entry: dict[str, Any]) -> None:
    """Move `state` ({field name: stored form}) forward by one readable entry's changes."""
    for name, change in entry["changes"].items():
        if isinstance(change, dict) and "new" in change:
            state[name] = change["new"]


def python_value(field: models.Field, value: Any) -> Any:
    """The value a model instance holds for the stored form `value` of `field` (the inverse of
    `entries.stored_form()`); a value the field cannot read back is returned as stored."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return copy.deepcopy(value)  # the history keeps its own copy
    if isinstance(field, models.FileField):
        return value  # the file's name: the field's descriptor makes it a FieldFile
    try:
        if isinstance(field, models.BinaryField) and isinstance(value, str):
            return base64.b64decode(value)
        return field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return value


class HistoryReads:
    """The reading methods of a history. The class it is mixed into is a sequence of entries, oldest first, with
    `model` (the model class), `pk` and `instance` (the row as it is now; None when it was deleted for real)."""

    model: type[models.Model]
    pk: Any
    instance: models.Model | None

    # --- points in time -------------------------------------------------------------------------------------------

    def as_of(self, when: datetime.datetime) -> models.Model | None:
        """An unsaved instance holding the tracked values the row held at `when` (timezone-aware), or None when the
        row did not exist yet. Rebuilt from the entries: exact for every value the history records (dates, Decimals,
        JSON, files by name, foreign keys by id). Fields the history does not record (excluded ones, the audit
        fields) and fields it has no value for keep the row's current value. The instance has the row's primary key
        and is meant for reading: to put the row back, use `revert_to()`."""
        state, _index = self._state_at_moment(moment(when))
        return None if state is None else self._instance_with(state)

    def versions(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """The row's successive states, oldest first, lazily: (entry, {field name: value}) after each entry."""
        state: dict[str, Any] = {}
        for entry in self._whole():
            if readable(entry):
                apply(state, entry)
                yield entry, self._values(state)

    def diff(self, a: Point, b: Point) -> dict[str, dict[str, Any]]:
        """{field name: {"old": value at `a`, "new": value at `b`}} for each field whose value differs between the two
        points (each a timezone-aware datetime or an entry index, as `history[index]` takes it)."""
        old, new = self._state_at(a)[0] or {}, self._state_at(b)[0] or {}
        names = [*old, *(name for name in new if name not in old)]
        return {
            name: {"old": self._value(name, old.get(name)), "new": self._value(name, new.get(name))}
            for name in names
            if entries.key(old.get(name)) != entries.key(new.get(name))
        }

    def revert_to(self, point: Point, fields: Sequence[str] | None = None) -> models.Model:
        """Save the row back to its values at `point` (every tracked field a form could edit, or the named ones), in
        one transaction, with a "revert" entry naming the point. See `revert.revert_to()`."""
        from .revert import revert_to

        return revert_to(self, point, fields)

    revert_to.alters_data = True  # type: ignore[attr-defined]

    # --- async variants (the reads may query the archive or the row) ----------------------------------------------

    async def aas_of(self, when: datetime.datetime) -> models.Model | None:
        return await sync_to_async(self.as_of)(when)

    async def aversions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return await sync_to_async(lambda: list(self.versions()))()

    async def adiff(self, a: Point, b: Point) -> dict[str, dict[str, Any]]:
        return await sync_to_async(self.diff)(a, b)

    async def arevert_to(self, point: Point, fields: Sequence[str] | None = None) -> models.Model:
        return await sync_to_async(self.revert_to)(point, fields)

    arevert_to.alters_data = True  # type: ignore[attr-defined]

    # --- helpers --------------------------------------------------------------------------------------------------

    def _whole(self) -> Sequence[Any]:
        """The complete history these entries belong to (they are all of it here)."""
        return self  # type: ignore[return-value]

    def _offset(self, whole: Sequence[Any]) -> int:
        """Where this sequence's first entry sits in `whole`."""
        return len(whole) - len(self)  # type: ignore[arg-type]

    def _state_at(self, point: Point) -> tuple[dict[str, Any] | None, int | None]:
        if isinstance(point, bool) or not isinstance(point, (int, datetime.datetime)):
            raise TypeError(f"A point in a history is a timezone-aware datetime or an entry index, not {point!r}.")
        if isinstance(point, int):
            return self._state_at_index(point)
        return self._state_at_moment(moment(point))

    def _state_at_moment(self, at: str) -> tuple[dict[str, Any] | None, int | None]:
        """({field name: stored form} after the last entry made at or before `at`, its index in this sequence);
        (None, None) before the first."""
        whole = self._whole()
        offset = self._offset(whole)
        state: dict[str, Any] | None = None
        last = None
        for position, entry in enumerate(whole):
            if not readable(entry):
                continue
            if entry_moment(entry) > at:  # type: ignore[operator]  # readable: it has one
                break
            state = state if state is not None else {}
            apply(state, entry)
            last = position - offset
        return state, last

    def _state_at_index(self, index: int) -> tuple[dict[str, Any] | None, int | None]:
        """The state right after entry `index` of this sequence (negative counts from the end)."""
        length = len(self)  # type: ignore[arg-type]
        position = index + length if index < 0 else index
        if not 0 <= position < length:
            raise IndexError(f"Entry index {index} is out of range: the history has {length} entries.")
        whole = self._whole()
        stop = self._offset(whole) + position
        state: dict[str, Any] = {}
        for number, entry in enumerate(whole):
            if number > stop:
                break
            if readable(entry):
                apply(state, entry)
        return state, position

    def _field(self, name: str) -> models.Field | None:
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if isinstance(field, models.Field) and field.concrete else None

    def _value(self, name: str, stored: Any) -> Any:
        field = self._field(name)
        return stored if field is None else python_value(field, stored)

    def _values(self, state: dict[str, Any]) -> dict[str, Any]:
        return {name: self._value(name, stored) for name, stored in state.items()}

    def _instance_with(self, state: dict[str, Any]) -> models.Model:
        """An unsaved instance: the row's current values (those loaded), with `state` over its tracked fields."""
        current = self.instance
        values: dict[str, Any] = {}
        if current is not None:
            loaded = current.__dict__
            for field in self.model._meta.concrete_fields:
                if field.attname in loaded and field.name != "history":
                    values[field.attname] = loaded[field.attname]
        tracked = {field.name: field for field in entries.tracked_fields(self.model)}
        for name, stored in state.items():
            if name in tracked:
                values[tracked[name].attname] = python_value(tracked[name], stored)
        values[self.model._meta.pk.attname] = self.pk
        instance = self.model(**values)
        instance.history = []  # type: ignore[attr-defined]  # an unsaved copy has none of its own
        return instance


class HistoryList(HistoryReads, list):
    """The value of `obj.history`: the entries held in the row, oldest first, as a list (equal to a plain list,
    JSON-serialisable), with the reading methods of `HistoryReads`."""

    def __init__(self, entries: Sequence[Any] = (), instance: models.Model | None = None) -> None:
        super().__init__(entries)
        self._instance = instance

    @property
    def instance(self) -> models.Model | None:  # type: ignore[override]
        return self._instance

    @property
    def model(self) -> type[models.Model]:  # type: ignore[override]
        return type(self._instance)  # type: ignore[return-value]

    @property
    def pk(self) -> Any:
        return None if self._instance is None else self._instance.pk

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Pickled and copied as the plain list it is: the instance it belongs to is its own business.
        return list, (list(self),)

    def _whole(self) -> Sequence[Any]:
        """This list, unless its oldest entries were archived (it does not start with "create"): then the complete
        history from `history_of()`, when the model has it."""
        if not self or (isinstance(self[0], dict) and self[0].get("action") == entries.CREATE):
            return self
        history_of = getattr(self.model, "history_of", None)
        if history_of is None or self.pk is None:
            return self
        return history_of(self.pk)


def bound(value: Any, instance: models.Model) -> Any:
    """`value`, the history in `instance.__dict__`, as a HistoryList of `instance`: converted once and kept there."""
    if type(value) is HistoryList and value._instance is instance:
        return value
    if not isinstance(value, list):
        return value  # a column that is not a list at all (hand-written SQL): shown as it is
    history = HistoryList(value, instance)
    instance.__dict__["history"] = history
    return history
