"""The few places where the audit trail relies on Django internals rather than its documented API.

Each is small, has a test per supported Django version (tests/test_django_internals.py), and says why no public
API does the job:

- `transaction_marker()`: Django can run code when a transaction commits (`on_commit`), but tells nobody when one
  rolls back. A marker registered with `on_commit` is dropped from the connection's pending callbacks when its
  transaction or savepoint rolls back, so looking for it there tells whether what was written (or read) since is
  still part of the database's future.
- `PeerLinkingIterable`: a QuerySet's rows are built by its iterable class; linking each batch of instances lets a
  deferred history be fetched for the whole batch in one query (as Django 6.1's FETCH_PEERS does for its own
  deferred fields), so that serialising or dumping a table does not cost a query per row.
- `check_update()`: builds Django's own UPDATE for a queryset without running it, so that invalid input raises
  Django's own error before any transaction is opened.
- `before_collector_delete()`: every real delete (Model.delete(), QuerySet.delete(), cascades, fast deletes) ends in
  `Collector.delete()`, which holds the whole set of rows about to go (`data`, `fast_deletes`). Django's delete
  signals are sent per instance and turn fast deletes off, so archiving from them would cost a statement per row;
  running once before `Collector.delete()`, in its transaction, archives a whole delete with a statement per model.
- `add_meta_index()`: gives a model an index as if its Meta listed it. Migrations take a model's indexes only when
  its own Meta named `indexes` (`Options.original_attrs`), and an abstract base's Meta.indexes would reach neither
  a model that declares its own Meta nor, wrongly, stay off a multi-table child (which inherits it by name).
- `defer_in_place()`: `QuerySet.defer()` copies the queryset before deferring. A manager that defers the history
  does it on the fresh queryset it hands out on every use (every save() reaches the base manager), where the copy
  is pure cost: `Query.add_deferred_loading()` is the step `defer()` takes on its copy.
"""

import contextlib
import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import EmptyResultSet, FieldError
from django.db import connections, models, transaction
from django.db.models import deletion, sql
from django.db.models.query import ModelIterable

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class Marker:
    """A point in a transaction: alive while what happened there may still commit, or once it has committed."""

    __slots__ = ("__weakref__", "alias", "committed", "savepoint_ids")

    def __init__(self, alias: str, savepoint_ids: tuple[str, ...]) -> None:
        self.alias = alias
        self.savepoint_ids = savepoint_ids
        self.committed = False

    def __call__(self) -> None:
        self.committed = True

    @property
    def pending(self) -> bool:
        # Each hook is (savepoint ids, callback, robust); django-stubs still types it as a pair.
        return any(hook[1] is self for hook in connections[self.alias].run_on_commit)

    @property
    def alive(self) -> bool:
        return self.committed or self.pending


def transaction_marker(alias: str | None) -> Marker | None:
    """The marker of this moment on the `alias` connection, or None outside a transaction (nothing there can be
    rolled back). Every write or read made in the same transaction and savepoint shares one marker."""
    if alias is None:  # an instance never saved nor loaded: nothing to roll back
        return None
    return marker_on(connections[alias])


def marker_on(connection: "BaseDatabaseWrapper") -> Marker | None:
    """`transaction_marker()` of a connection already in hand: looking one up by alias is not free, and a save
    already holds its own (`Write.connection`)."""
    if not connection.in_atomic_block:
        return None
    alias = connection.alias
    savepoint_ids = tuple(connection.savepoint_ids)
    markers = connection.__dict__.setdefault("_audit_trail_markers", {})
    marker = markers.get(savepoint_ids)
    if marker is None or not marker.pending:
        for stale in [sids for sids, known in markers.items() if not known.pending]:
            del markers[stale]
        marker = markers[savepoint_ids] = Marker(alias, savepoint_ids)
        connection.on_commit(marker)
    return marker


class PeerLinkingIterable(ModelIterable):
    """Yields instances as ModelIterable does, a batch at a time, each batch linked by a shared peer list."""

    def __iter__(self):
        batch = []
        for instance in super().__iter__():
            batch.append(instance)
            if len(batch) >= self.chunk_size:
                yield from _linked(batch)
                batch = []
        yield from _linked(batch)


def _linked(batch):
    if len(batch) > 1:
        peers = [weakref.ref(instance) for instance in batch]
        for instance in batch:
            instance.__dict__["_history_peers"] = peers
    return batch


def check_update(queryset: models.QuerySet[Any], values: dict[str, Any]) -> None:
    """Compile (but do not run) Django's UPDATE of `queryset` with `values`: raises what QuerySet.update() would."""
    queryset._not_support_combined_queries("update")  # type: ignore[attr-defined]
    if queryset.query.is_sliced:
        raise TypeError("Cannot update a query once a slice has been taken.")
    if queryset.query.distinct_fields:
        raise TypeError("Cannot call update() after .distinct(*fields).")
    query = cast(sql.UpdateQuery, queryset.query.chain(sql.UpdateQuery))
    query.add_update_values(values)
    for alias in query.order_by:  # as QuerySet.update() inlines annotations in order_by()
        annotation = query.annotations.get(alias.removeprefix("-")) if isinstance(alias, str) else None
        if getattr(annotation, "contains_aggregate", False):
            raise FieldError(f"Cannot update when ordering by an aggregate: {annotation}")
    query.clear_select_clause()  # as QuerySet.update() does: annotations were inlined by add_update_values()
    # A queryset that can match nothing is valid (EmptyResultSet): Django's UPDATE then updates nothing.
    with contextlib.suppress(EmptyResultSet):
        query.get_compiler(queryset.db).as_sql()


def before_collector_delete(
    needed: Callable[[deletion.Collector], bool], run: Callable[[deletion.Collector], None]
) -> None:
    """Make every `Collector.delete()` call `run(collector)` first, in the delete's own transaction, when
    `needed(collector)` says so (a delete that needs nothing runs exactly as Django's, with no transaction added).
    Installed once; calling it again does nothing."""
    original = deletion.Collector.delete
    if getattr(original, "_runs_first", None) is not None:
        return

    @functools.wraps(original)
    def delete(collector: deletion.Collector) -> tuple[int, dict[str, int]]:
        if not needed(collector):
            return original(collector)
        with transaction.atomic(using=collector.using, savepoint=False):
            run(collector)
            return original(collector)

    delete._runs_first = run  # type: ignore[attr-defined]
    deletion.Collector.delete = delete  # type: ignore[method-assign, assignment]


def add_meta_index(model: type[models.Model], index: models.Index) -> None:
    """Add `index` to `model`'s indexes, as if its Meta listed it (so that makemigrations sees it)."""
    opts = model._meta
    opts.indexes = [*opts.indexes, index]
    opts.original_attrs["indexes"] = opts.indexes


def defer_in_place(queryset: models.QuerySet[Any], *names: str) -> models.QuerySet[Any]:
    """`queryset.defer(*names)` without copying `queryset` first: for a queryset nobody else holds yet (the one a
    manager's get_queryset() just made). Where defer() would refuse (values(), a union), defer() reports it."""
    if queryset._fields is not None or queryset.query.combinator:  # type: ignore[attr-defined]
        return queryset.defer(*names)
    queryset.query.add_deferred_loading(names)
    return queryset
