"""HistoryField, the audit trail's column. It does its work in `pre_save()`, Django's documented hook for a field's
value at the moment it is saved, so every path that saves a row through Django (save(), create(), get_or_create(),
bulk_create(), multi-table inheritance, a retry after a rollback) goes through it: on INSERT it is the row's first
entry ("create"); on UPDATE the database appends this save's entry to the column (or leaves it alone when nothing
tracked changed). Reading it loads it from the database when it was not loaded with the row, for the whole batch
the row came in.

Migrations name it by its public path, `apps.core.fields.HistoryField` (see `deconstruct()`), so that it can move
within the app without a migration.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router

from . import entries, indexes, reads, revert, tracker  # noqa: F401 - indexes: each audited model gets its index
from .django_internals import transaction_marker
from .expressions import AppendEntry, KeepColumn, column_of


class HistoryDescriptor:
    """Reads the history from memory while memory can be trusted, and from the database otherwise: when it was
    deferred at load time (the default), after a write, or when the transaction it was read in rolled back."""

    def __init__(self, field: "HistoryField") -> None:
        self.field = field

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname, tracker.NOT_LOADED)
        if value is tracker.NOT_LOADED and tracker.reading_raw_history():
            return value
        if value is tracker.NOT_LOADED:
            value = tracker.take_fetched(instance)  # read with another row of its batch: no query
        if value is tracker.NOT_LOADED or _read_in_a_rolled_back_transaction(instance):
            value = self._fetch(instance)
        return reads.bound(value, instance)  # a list with as_of(), versions(), diff(), revert_to()

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value
        if "_stored" in instance.__dict__:
            instance.__dict__["_stored"].history_marker = None

    def _fetch(self, instance):
        """Load the history of `instance` and of its not-yet-loaded peers (the rows it was fetched with)."""
        if instance.pk is None:
            return []
        peers = [instance, *_waiting_peers(instance, self.field.attname)]
        using = instance._state.db or "default"
        rows = type(instance)._base_manager.db_manager(using).filter(pk__in=[peer.pk for peer in peers])
        stored = dict(rows.values_list("pk", self.field.attname))
        marker = transaction_marker(using)
        # A row that is not there (not written yet, or a rolled-back create) has no history. The peers' histories
        # are kept aside until each is read: until then they stay deferred, as Django (and FieldTracker) see them.
        for peer in peers[1:]:
            tracker.keep_fetched(peer, stored.get(peer.pk, []), marker)
        instance.__dict__[self.field.attname] = stored.get(instance.pk, [])
        tracker.state_of(instance).history_marker = marker
        return instance.__dict__[self.field.attname]


class HistoryField(models.JSONField):
    """The history column. Each concrete model whose table holds one also gets its index (`indexes.HistoryIndex`)."""

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        return name, "apps.core.fields.HistoryField" if type(self) is HistoryField else path, args, kwargs

    descriptor_class = HistoryDescriptor

    def value_from_object(self, obj: models.Model) -> Any:
        """The entries as a plain list, for serializers and forms (some, YAML's, accept no list subclass)."""
        value = super().value_from_object(obj)
        return list(value) if isinstance(value, reads.HistoryList) else value

    def pre_save(self, instance: models.Model, add: bool) -> Any:
        write = tracker.current_write(instance)
        if add:
            return self._creation(instance, write)
        return self._update(instance, write)

    def _creation(self, instance, write):
        """The first entry of a new row; also stamps who created it, and when. A copy of another row (`pk = None`)
        starts its own history: nothing the instance holds in memory is written."""
        vendor = _vendor(instance, write)
        if write is None:  # bulk_create, or a save that bypassed TrackableModel.save()
            now, user = tracker.bulk_moment()
            instance._stamp_creation(now, user)
            return [entries.entry(entries.CREATE, entries.creation_changes(instance, vendor), user, now)]
        if write.creation is None:  # pre_save runs more than once per INSERT on some Django versions
            instance._stamp_creation(write.now, write.user)
            changes = entries.creation_changes(instance, vendor)
            write.creation = [entries.entry(entries.CREATE, changes, write.user, write.now)]
            write.layer = tracker.Layer(tracker.snapshot(instance), replaces=True)
        return write.creation

    def _update(self, instance, write):
        only = None if write is None else write.update_fields
        changes = tracker.changes(instance, only, _vendor(instance, write))
        if write is not None:
            fields = entries.tracked_among(type(instance), only)
            write.layer = tracker.Layer(tracker.snapshot(instance, fields), replaces=False)
        if not changes:
            return KeepColumn(column_of(self))
        now, user = (write.now, write.user) if write is not None else tracker.bulk_moment()
        return AppendEntry(
            column_of(self), revert.labelled(instance, entries.entry(entries.UPDATE, changes, user, now))
        )


def _vendor(instance, write):
    if write is not None:
        return write.connection.vendor
    return connections[instance._state.db or router.db_for_write(type(instance))].vendor


def _read_in_a_rolled_back_transaction(instance):
    state = instance.__dict__.get("_stored")
    return state is not None and state.history_marker is not None and not state.history_marker.alive


def _waiting_peers(instance, attname):
    peers = instance.__dict__.get("_history_peers") or ()
    return [
        peer
        for ref in peers
        if (peer := ref()) is not None
        and peer is not instance
        and type(peer) is type(instance)
        and peer._state.db == instance._state.db
        and peer.__dict__.get(attname, tracker.NOT_LOADED) is tracker.NOT_LOADED
        and not tracker.has_fetched(peer)
    ]
