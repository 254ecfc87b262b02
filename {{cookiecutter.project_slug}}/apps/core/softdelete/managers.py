"""Managers and querysets of TimestampedModel: every bulk write audited as a TrackableModel's (they build on
TrackableQuerySet), plus soft delete for querysets and the managers that hide or show deleted rows.

`all_objects` (every row) is Django's default and base manager of timestamped models, so that validation, forms,
serializers, dumpdata, the admin and cascades see soft-deleted rows; `objects` hides them.
"""

import functools
from typing import Any

from django.db import models

from ..audit.querysets import HistoryDeferred, TrackableQuerySet
from . import cascade


class TimestampedQuerySet(TrackableQuerySet):
    """Soft delete for querysets: delete() marks the rows deleted (cascading as the model's delete() does),
    restore() brings them back, hard_delete() removes them."""

    def alive(self) -> "TimestampedQuerySet":
        return self.filter(date_deleted__isnull=True)

    def deleted(self) -> "TimestampedQuerySet":
        return self.filter(date_deleted__isnull=False)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Mark the rows deleted, each with a "delete" entry, and their timestamped CASCADE children with them.
        Returns what QuerySet.delete() would: (rows marked, {model label: rows})."""
        if self.query.is_sliced:
            raise TypeError("Cannot use 'limit' or 'offset' with delete().")
        self._for_write = True
        return cascade.delete_rows(self)

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def restore(self) -> int:
        """Undo the soft delete of the deleted rows among these (and of the children their deletion cascaded to).
        Returns the number of rows restored."""
        self._for_write = True
        return cascade.restore_rows(self)

    restore.alters_data = True  # type: ignore[attr-defined]

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        """Remove the rows from the database for real, as QuerySet.delete() does."""
        return super().delete()

    hard_delete.alters_data = True  # type: ignore[attr-defined]
    hard_delete.queryset_only = True  # type: ignore[attr-defined]


_TimestampedManagerBase = models.Manager.from_queryset(TimestampedQuerySet)


class TimestampedManager(HistoryDeferred, _TimestampedManagerBase):
    """Every row, deleted or not: `all_objects`, and Django's default and base manager of timestamped models."""

    def __getattr__(self, name: str) -> Any:
        # Django's deserializers look up natural keys on the default manager. A project that follows Django's docs
        # defines get_by_natural_key on its own manager (`objects`, say): it is found here too, over every row.
        if name == "get_by_natural_key" and "model" in self.__dict__:
            for manager in self.model._meta.managers:
                lookup = getattr(type(manager), "get_by_natural_key", None)
                if lookup is not None and manager.name != self.name:
                    return functools.partial(lookup, self)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class AliveManager(TimestampedManager):
    """`objects` of timestamped models: soft-deleted rows are hidden."""

    def get_queryset(self) -> TimestampedQuerySet:
        return super().get_queryset().alive()
