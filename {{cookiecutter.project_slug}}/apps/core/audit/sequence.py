"""`history_of(pk)`: the complete history of one row, wherever it lives, as one lazy sequence.

A row's history is its archived records (chunks of a long history moved out of the row, and the record of each
time the row was deleted for real), oldest first, followed by the entries still in the row. `HistoryOfRow` knows only
how many entries each part holds (one small query each for the archive and the row) and reads entries a page at a
time, each page cut out of its JSON column by the database: reading the last entry of a 100,000-entry history reads
one page, not the history.
"""

import functools
from collections.abc import Iterator, Sequence
from typing import Any, cast, overload

from django.db import models, router

from . import entries
from .archive import ArchivedHistory
from .expressions import HistoryEntries, HistoryLength, column_of
from .reads import HistoryReads

# Entries read per query.
PAGE_SIZE = 200


def audited(model: type[models.Model]) -> bool:
    """Whether `model` keeps a history (a TrackableModel, however far up its bases)."""
    from .fields import HistoryField

    try:
        return isinstance(model._meta.get_field("history"), HistoryField)
    except Exception:  # FieldDoesNotExist, or a model class that is not ready
        return False


def history_model(model: type[models.Model]) -> type[models.Model]:
    """The concrete model whose table holds `model`'s history column (a parent's, under multi-table inheritance)."""
    return cast(type[models.Model], model._meta.get_field("history").model._meta.concrete_model)


def column(model: type[models.Model], name: str) -> str:
    """The database column of `model`'s concrete field `name` ("pk" for its primary key)."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return column_of(cast(models.Field, field))


def stored_pk(model: type[models.Model], pk: Any) -> str:
    """The key of a row as the archive stores it: its stored form, as text (integers, UUIDs and strings alike)."""
    return str(entries.to_json(entries.stored_form(model._meta.pk, model._meta.pk.to_python(pk))))


class _Part:
    """Entries held in one place: an archived record (`record` is its id) or the row itself (`record` is None)."""

    __slots__ = ("count", "record", "start")

    def __init__(self, record: int | None, start: int, count: int) -> None:
        self.record, self.start, self.count = record, start, count


class HistoryOfRow(HistoryReads, Sequence):
    """The complete history of the row of `model` keyed `pk`, oldest first: archived entries, then the row's own.

    Supports len(), indexing (negative too), slicing and iteration; nothing is read until it is used, then the
    sizes of its parts once, and entries a page at a time. It reads the history as it stood when first used.
    `instance` is the row as it is now (None when it was deleted for real). The reading methods of `obj.history`
    (`as_of()`, `versions()`, `diff()`, `revert_to()`: see reads.py) work on it too, over the whole history.
    """

    def __init__(self, model: type[models.Model], pk: Any, using: str | None = None) -> None:
        self.model = model
        self.pk = model._meta.pk.to_python(pk)
        self.using = using or router.db_for_read(model)
        self._pages: dict[tuple[int | None, int], list[dict[str, Any]]] = {}
        self._instance: list[models.Model | None] = []  # read when first asked for

    def __repr__(self) -> str:
        return f"<history_of {self.model._meta.label} {self.pk!r}>"

    @property
    def instance(self) -> models.Model | None:
        """The row as it is now, read when first asked for; None when it was deleted for real."""
        if not self._instance:
            self._instance.append(self.model._base_manager.db_manager(self.using).filter(pk=self.pk).first())
        return self._instance[0]

    @instance.setter
    def instance(self, value: models.Model | None) -> None:
        self._instance[:] = [value]

    @functools.cached_property
    def _parts(self) -> list[_Part]:
        archived = ArchivedHistory.objects.using(self.using).filter(
            model_label=self.model._meta.label_lower, object_pk=stored_pk(self.model, self.pk)
        )
        parts, start = [], 0
        for record, count in archived.order_by("id").values_list("id", "entry_count"):
            parts.append(_Part(record, start, count))
            start += count
        rows = self.model._base_manager.db_manager(self.using).filter(pk=self.pk)
        in_row = rows.annotate(_entries=HistoryLength("history")).values_list("_entries", flat=True).first()
        if in_row:
            parts.append(_Part(None, start, in_row))
        return parts

    def __len__(self) -> int:
        return sum(part.count for part in self._parts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            if not positions:
                return []
            low = min(positions)
            window = list(self._read(low, max(positions) + 1))
            return [window[position - low] for position in positions]
        if not isinstance(index, int):
            raise TypeError(f"history_of() indices must be integers or slices, not {type(index).__name__}.")
        length = len(self)
        position = index + length if index < 0 else index
        if not 0 <= position < length:
            raise IndexError("history_of() index out of range")
        return self._entry(position)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._read(0, len(self))

    def _read(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        """Entries start..stop (stop excluded), read a page at a time."""
        for part in self._parts:
            if part.start + part.count <= start or part.start >= stop:
                continue
            first = max(start, part.start) - part.start
            last = min(stop, part.start + part.count) - part.start
            for low in range(first, last, PAGE_SIZE):
                yield from self._window(part, low, min(low + PAGE_SIZE, last))

    def _entry(self, position: int) -> dict[str, Any]:
        """One entry, from its page (kept: indexing near it again reads nothing more)."""
        for part in self._parts:
            if part.start <= position < part.start + part.count:
                offset = position - part.start
                page = offset // PAGE_SIZE
                key = (part.record, page)
                if key not in self._pages:
                    end = min((page + 1) * PAGE_SIZE, part.count)
                    self._pages[key] = self._window(part, page * PAGE_SIZE, end)
                return self._pages[key][offset - page * PAGE_SIZE]
        raise IndexError("history_of() index out of range")

    def _window(self, part: _Part, start: int, stop: int) -> list[dict[str, Any]]:
        """Entries start..stop of one part, cut out by the database."""
        if part.record is None:
            rows = self.model._base_manager.db_manager(self.using).filter(pk=self.pk)
            source = rows.annotate(_window=HistoryEntries("history", start, stop))
        else:
            records = ArchivedHistory.objects.using(self.using).filter(pk=part.record)
            source = records.annotate(_window=HistoryEntries("entries", start, stop))
        return source.values_list("_window", flat=True).first() or []


def history_of(model: type[models.Model], pk: Any, using: str | None = None) -> HistoryOfRow:
    """The complete history of `model`'s row `pk`: see HistoryOfRow."""
    return HistoryOfRow(model, pk, using)
