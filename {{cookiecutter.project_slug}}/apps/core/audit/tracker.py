"""What a TrackableModel instance remembers as stored, and the saves it is in the middle of.

The old values of a change come from a snapshot, not from a SELECT: the tracked values as loaded (`from_db`), moved
forward by each write the instance makes. A write moves the snapshot forward only for as long as it can still
commit: each one is a layer tied to the transaction marker of its moment (see `django_internals`), and a layer whose
transaction or savepoint rolled back is dropped the next time the snapshot is read. So after a rollback the instance
diffs against what the database really holds, and a retried save records its change again, exactly once.

The snapshot keeps immutable values as they are (an untouched field is the very same object at save time, which is
the cheap common case) and values that can change in place (JSON containers, files) as their stored form, so that
in-place edits show as changes.
"""

import contextlib
import contextvars
import datetime
import decimal
import functools
import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

from django.db import connections, models
from django.db.models.signals import class_prepared, post_save
from django.utils import timezone

from . import entries
from .current_user import get_current_user
from .django_internals import Marker, marker_on, transaction_marker

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.db.backends.base.base import BaseDatabaseWrapper

# (now, user) shared by every object of one bulk_create.
_bulk_write: contextvars.ContextVar[tuple[datetime.datetime, Any] | None] = contextvars.ContextVar(
    "bulk_write", default=None
)
# Set while Django copies field values between instances (refresh_from_db): a history not loaded stays not loaded.
# Where a history read along with another row of the batch waits until it is read (see fields.py).
_FETCHED = "_history_fetched"
_raw_history_reads = contextvars.ContextVar("raw_history_reads", default=False)

# Values that cannot change in place: remembered as they are (identity then proves a field untouched).
_IMMUTABLE = (str, int, float, decimal.Decimal, datetime.date, datetime.time, datetime.timedelta, uuid.UUID, bytes)


class _Stored:
    """A value that can change in place (a JSON container, a file), remembered in its stored form."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


@dataclass(eq=False)
class Layer:
    values: dict[str, Any]
    replaces: bool  # a create: the row holds exactly these values, whatever was known before
    marker: Marker | None = None  # None: outside a transaction, so already committed


@dataclass(eq=False)
class Write:
    """One save() of one instance: where, when, by whom, which fields; the layer it adds once it has run."""

    using: str
    update_fields: frozenset[str] | None
    now: datetime.datetime = dataclass_field(default_factory=timezone.now)
    user: "AbstractBaseUser | None" = dataclass_field(default_factory=get_current_user)
    layer: Layer | None = None
    creation: list[dict[str, Any]] | None = None
    done: bool = False

    @functools.cached_property
    def connection(self) -> "BaseDatabaseWrapper":
        """connections[using], looked up once per save (a lookup is not free), and only once Django's save_base() has
        looked it up itself: a bad alias fails there, as for any model."""
        return connections[self.using]


class StoredState:
    """The snapshot of one instance: a base (as loaded) and the layers of its writes since."""

    __slots__ = ("base", "history_marker", "layers", "writes")

    def __init__(self, base: dict[str, Any] | None = None) -> None:
        self.base = base or {}
        self.layers: list[Layer] = []
        self.writes: list[Write] = []
        self.history_marker: Marker | None = None

    def values(self) -> dict[str, Any]:
        """{attname: stored value} as the database holds it now, as far as this instance knows."""
        self.layers = [layer for layer in self.layers if layer.marker is None or layer.marker.alive]
        while self.layers and (self.layers[0].marker is None or self.layers[0].marker.committed):
            self._fold(self.layers.pop(0))
        if not self.layers:
            return self.base
        current = dict(self.base)
        for layer in self.layers:
            if layer.replaces:
                current = {}
            current.update(layer.values)
        return current

    def add(self, layer: Layer) -> None:
        if layer.marker is None and not self.layers:
            self._fold(layer)
        else:
            self.layers.append(layer)

    def _fold(self, layer):
        self.base = dict(layer.values) if layer.replaces else {**self.base, **layer.values}

    def portable(self) -> "StoredState":
        """A copy with what is known now and no ties to this process's connections (for pickling and copies)."""
        return StoredState(self.values())


def known_values(instance: models.Model) -> dict[str, Any]:
    """The stored values this instance knows of (empty for an instance never loaded nor saved)."""
    state = instance.__dict__.get("_stored")
    return state.values() if state is not None else {}


def state_of(instance: models.Model) -> StoredState:
    state = instance.__dict__.get("_stored")
    if state is None:
        state = instance.__dict__["_stored"] = StoredState()
    return state


def snapshot(instance: models.Model, fields: Iterable[models.Field] | None = None) -> dict[str, Any]:
    """{attname: value} of the tracked fields the instance holds (deferred ones are left out)."""
    loaded = instance.__dict__
    return {
        field.attname: _remembered(field, loaded[field.attname])
        for field in (entries.tracked_fields(type(instance)) if fields is None else fields)
        if field.attname in loaded
    }


def remember_loaded(instance: models.Model, fields: Iterable[models.Field] | None = None) -> None:
    """Called when values come from the database: they are what is stored."""
    values = snapshot(instance, fields)
    state = instance.__dict__.get("_stored")
    if state is None:
        instance.__dict__["_stored"] = StoredState(values)
        return
    state.add(Layer(values, replaces=False, marker=transaction_marker(instance._state.db)))


def changes(
    instance: models.Model, only: Collection[str] | None = None, vendor: str | None = None
) -> dict[str, dict[str, Any]]:
    """The update entry's changes: each tracked field (of `only`, when given) whose value differs from the stored
    one. A field whose stored value is unknown (an instance built by hand for an existing row, a deferred field
    assigned later) is listed with old null: a write the snapshot cannot explain is recorded, never skipped."""
    stored = state_of(instance).values()
    found: dict[str, dict[str, Any]] = {}
    for field in entries.tracked_among(type(instance), only):
        if field.attname not in instance.__dict__:
            continue  # deferred: not being written
        value = instance.__dict__[field.attname]
        if field.attname in stored:
            change = _change(field, stored[field.attname], value, vendor)
        else:
            change = None, entries.stored_form(field, value, vendor)
        if change is not None:
            found[field.name] = {"old": change[0], "new": change[1]}
    return found


def unchanged(instance: models.Model, field: models.Field) -> bool:
    """Whether the instance holds for `field` the value the database is known to hold."""
    stored = state_of(instance).values()
    if field.attname not in stored or field.attname not in instance.__dict__:
        return False
    return _change(field, stored[field.attname], instance.__dict__[field.attname]) is None


def _change(field, old, value, vendor=None):
    """(old, new) in their stored forms when `value` differs from the remembered `old`; None when it does not."""
    if value is old:
        return None
    old = old.value if isinstance(old, _Stored) else entries.stored_form(field, old, vendor)
    new = entries.stored_form(field, value, vendor)
    return None if entries.key(old) == entries.key(new) else (old, new)


class writing:  # named as it is used, like transaction.atomic
    """The scope of one save() of `instance`: yields its Write, which the history field fills in while Django
    saves, and keeps its layer once the write has run (see `_confirm`); a save that raises before its statement ran
    leaves the snapshot as it was. A class rather than a generator: it runs on every save."""

    __slots__ = ("instance", "state", "write")

    def __init__(self, instance: models.Model, using: str, update_fields: Iterable[str] | None) -> None:
        self.instance = instance
        self.state = state_of(instance)
        self.write = Write(using, None if update_fields is None else frozenset(update_fields))

    def __enter__(self) -> Write:
        _confirm(self.instance, self.state)  # a save from a post_save receiver: the outer write has run
        self.state.writes.append(self.write)
        # Django saves only the loaded fields of an instance with deferred ones. The history is written by the
        # database (it appends), never from this value, so it counts as loaded: a plain save() stays a full save.
        self.instance.__dict__.setdefault("history", NOT_LOADED)
        return self.write

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        state, loaded = self.state, self.instance.__dict__
        try:
            if exc_type is None:
                _confirm(self.instance, state)
        finally:
            state.writes.remove(self.write)
            if not state.writes and loaded.get("history") is NOT_LOADED:
                del loaded["history"]  # deferred again, as Django sees it (get_deferred_fields())


def current_write(instance: models.Model) -> "Write | None":
    state = instance.__dict__.get("_stored")
    return state.writes[-1] if state is not None and state.writes else None


@contextlib.contextmanager
def bulk_write(now: datetime.datetime, user: "AbstractBaseUser | None") -> Iterator[None]:
    """Share one (now, user) among all the rows of one bulk operation."""
    token = _bulk_write.set((now, user))
    try:
        yield
    finally:
        _bulk_write.reset(token)


def bulk_moment() -> tuple[datetime.datetime, "AbstractBaseUser | None"]:
    return _bulk_write.get() or (timezone.now(), get_current_user())


def record_write(instance: models.Model, values: dict[str, Any], *, replaces: bool, using: str) -> None:
    """Move the snapshot forward with a write made outside save() (bulk operations, soft delete, restore)."""
    state_of(instance).add(Layer(values, replaces, transaction_marker(using)))
    forget_history(instance)


def forget_history(instance: models.Model) -> None:
    """The in-memory history no longer matches the database: read it again on next access."""
    instance.__dict__.pop("history", None)
    instance.__dict__.pop(_FETCHED, None)


def keep_fetched(instance: models.Model, history: list, marker: object) -> None:
    """Keep a history read along with another row of the batch `instance` came in, until it is read."""
    instance.__dict__[_FETCHED] = (history, marker)


def has_fetched(instance: models.Model) -> bool:
    return _FETCHED in instance.__dict__


def take_fetched(instance: models.Model) -> object:
    """The history kept by `keep_fetched()`, now the instance's own (NOT_LOADED when there is none)."""
    fetched = instance.__dict__.pop(_FETCHED, None)
    if fetched is None:
        return NOT_LOADED
    history, marker = fetched
    instance.__dict__["history"] = history
    state_of(instance).history_marker = marker
    return history


@contextlib.contextmanager
def raw_history_reads() -> Iterator[None]:
    """Reading a history that is not loaded gives NOT_LOADED instead of loading it (while Django copies values)."""
    token = _raw_history_reads.set(True)
    try:
        yield
    finally:
        _raw_history_reads.reset(token)


def reading_raw_history() -> bool:
    return _raw_history_reads.get()


def _confirm(instance, state):
    """Keep the layers of the writes that have run. The in-memory history follows: a created row's is its first
    entry (trusted while the write can still commit), any other's is read again when next needed."""
    for write in state.writes:
        if write.layer is not None and not write.done:
            write.done = True
            write.layer.marker = marker_on(write.connection)
            state.add(write.layer)
            if write.creation is not None:
                instance.__dict__["history"] = list(write.creation)
                state.history_marker = write.layer.marker
            else:
                forget_history(instance)


def _remembered(field, value):
    if value is None or isinstance(value, _IMMUTABLE):
        return value
    return _Stored(entries.stored_form(field, value))


def _written(sender, instance, raw, **kwargs):
    """post_save: the write has run. Confirmed before any receiver of the project's (connected later) can save the
    same instance again, so that save diffs against this one."""
    state = instance.__dict__.get("_stored")
    if state is not None and state.writes:
        _confirm(instance, state)


def _watch(sender, **kwargs):
    """class_prepared: each audited model (proxies too) gets the post_save receiver above, as it is defined, so it
    comes before the receivers a project connects for it; models that are not audited get none."""
    if getattr(sender, "history_bookkeeping_fields", None) is not None and not sender._meta.abstract:
        post_save.connect(_written, sender=sender, weak=False, dispatch_uid=f"audit-trail-{sender._meta.label}")


class_prepared.connect(_watch, dispatch_uid="apps.core.audit.tracker.watch")


class _NotLoaded:
    """Stands for a history that is in the database but not in memory. Outside a write the history is simply left
    out of the instance's __dict__ (deferred, as Django, FieldTracker and refresh_from_db() expect); during a
    save() it sits there, so that Django does not narrow the save to the other fields (the database appends to
    the history; the value in memory is never written). Reading it with `raw_history_reads()` gives this too."""

    def __repr__(self):
        return "NOT_LOADED"

    def __reduce__(self):
        return "NOT_LOADED"


NOT_LOADED = _NotLoaded()
