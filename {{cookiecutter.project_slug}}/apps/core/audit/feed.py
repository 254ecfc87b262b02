"""Who changed what: rows changed by a user (`MyModel.objects.changed_by(...)`) and the activity feed across every
audited model (`activity(...)`), both answered by the database from the history column.

    Invoice.objects.changed_by(alice, since=monday, fields=["amount"])    # a QuerySet of invoices
    activity(user=alice, since=monday)[:50]                                # her latest 50 changes, any model

The conditions on the entries are SQL on both databases. On PostgreSQL, changed_by() first asks the history's GIN
index (`HistoryIndex`, see indexes.py) for the rows with any entry by that user (`EntryFilter.user_rows_sql()`), then
checks the window and fields on those rows' entries only; on SQLite it scans, in SQL. Entries that are not what the
audit trail writes (not an object, no well-formed "at") never match and never raise.

The SQL is put together from fixed fragments and names quoted by the connection; every value is a bound parameter
(hence the `noqa: S608` on the lines that join them).
"""

import datetime
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import NotSupportedError, connections, models, router
from django.db.models import Field, Model

from . import entries
from .indexes import values_under
from .reads import moment

# What an entry's "at" must look like to be read (as reads.readable() checks it in Python).
_AT_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"
_AT_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9]*+00:00"

# Entries each model is asked for per page of the feed.
PAGE_SIZE = 100


@dataclass(frozen=True)
class EntryFilter:
    """The entries a question is about: by whom (the stored form of "by"; `anyone` when not asked), when
    ([since, until), as entries spell "at"), touching which fields (any when None)."""

    by: Any = None
    anyone: bool = True
    since: str | None = None
    until: str | None = None
    fields: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        user: Any = None,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
        fields: Iterable[str] | None = None,
        *,
        anyone: bool,
    ) -> "EntryFilter":
        if isinstance(fields, str):
            raise TypeError("fields is a list of field names, not one string.")
        return cls(
            by=None if anyone else _by(user),
            anyone=anyone,
            since=None if since is None else moment(since),
            until=None if until is None else moment(until),
            fields=None if fields is None else tuple(fields),
        )

    def entry_sql(self, entry: str, vendor: str) -> tuple[str, list[Any]]:
        """A condition on one entry (the SQL expression `entry`, a JSON value)."""
        if vendor == "postgresql":
            parts = [
                f"jsonb_typeof({entry} -> 'changes') = 'object'",
                f"jsonb_typeof({entry} -> 'action') = 'string'",
                f"{entry} ->> 'at' ~ '{_AT_PATTERN}'",
            ]
            params: list[Any] = []
            if not self.anyone:
                parts.append(f"{entry} -> 'by' = %s::jsonb")
                params.append(json.dumps(self.by))
            if self.since is not None:
                parts.append(f"{entry} ->> 'at' >= %s")
                params.append(self.since)
            if self.until is not None:
                parts.append(f"{entry} ->> 'at' < %s")
                params.append(self.until)
            if self.fields is not None:
                parts.append(f"{entry} -> 'changes' ?| %s::text[]")
                params.append(list(self.fields))
            return " AND ".join(parts), params
        if vendor == "sqlite":
            parts = [
                f"json_type({entry}, '$.changes') = 'object'",
                f"json_type({entry}, '$.action') = 'text'",
                f"json_extract({entry}, '$.at') GLOB '{_AT_GLOB}'",
            ]
            params = []
            if not self.anyone:
                if self.by is None:
                    parts.append(f"json_type({entry}, '$.by') = 'null'")
                else:
                    parts.append(f"json_extract({entry}, '$.by') = %s")
                    params.append(self.by)
            if self.since is not None:
                parts.append(f"json_extract({entry}, '$.at') >= %s")
                params.append(self.since)
            if self.until is not None:
                parts.append(f"json_extract({entry}, '$.at') < %s")
                params.append(self.until)
            if self.fields is not None:
                marks = ", ".join(["%s"] * len(self.fields))
                parts.append(f"EXISTS (SELECT 1 FROM json_each({entry}, '$.changes') AS c WHERE c.key IN ({marks}))")  # noqa: S608
                params.extend(self.fields)
            return " AND ".join(parts), params
        raise NotSupportedError(f"The audit trail reads histories on PostgreSQL and SQLite, not on {vendor}.")

    def user_rows_sql(self, history: str) -> tuple[str, list[Any]]:
        """On PostgreSQL, the condition the history's index answers (see indexes.py), followed by AND: the row (its
        history column `history`) has an entry by `by`. Nothing when the question is about anyone."""
        if self.anyone:
            return "", []
        return f"{values_under(history)} @> %s::jsonb AND ", [json.dumps([self.by])]

    def row_sql(self, history: str, vendor: str) -> tuple[str, list[Any]]:
        """A condition on a row (its history column `history`): at least one of its entries matches."""
        if vendor == "postgresql":
            condition, params = self.entry_sql("e.entry", vendor)
            exists = f"EXISTS (SELECT 1 FROM jsonb_array_elements({_pg_array(history)}) AS e(entry) WHERE {condition})"  # noqa: S608
            # First the rows with any entry by that user, which the GIN index finds; then the window and fields.
            rows, rows_params = self.user_rows_sql(history)
            return f"({rows}{exists})", [*rows_params, *params]
        condition, params = self.entry_sql(_SQLITE_ENTRY, vendor)
        return f"EXISTS (SELECT 1 FROM json_each({_sqlite_array(history)}) AS e WHERE {condition})", params  # noqa: S608


def _pg_array(history: str) -> str:
    return f"(CASE WHEN jsonb_typeof({history}) = 'array' THEN {history} ELSE '[]'::jsonb END)"


def _sqlite_array(history: str) -> str:
    return f"(CASE WHEN json_valid({history}) THEN {history} ELSE '[]' END)"


# An entry of json_each() as JSON, or NULL when it is not an object (json_extract() of plain text would raise).
_SQLITE_ENTRY = "(CASE WHEN e.type = 'object' THEN e.value END)"


def _by(user: Any) -> Any:
    """The stored form of "by" for `user`: a user, a primary key, or None (changes made by nobody)."""
    if user is None:
        return None
    if isinstance(user, models.Model):
        if user.pk is None:
            raise ValueError(f"{user!r} is not saved: it cannot have changed anything.")
        return entries.to_json(user.pk)
    pk = get_user_model()._meta.pk
    try:
        return entries.to_json(pk.to_python(user))
    except Exception as error:
        raise ValueError(f"{user!r} is neither a user nor a user's primary key.") from error


def check_fields(model: type[Model], fields: Iterable[str] | None) -> None:
    """Refuse names that are not fields of `model` (a typo would otherwise silently match nothing)."""
    if fields is None:
        return
    if isinstance(fields, str):
        raise TypeError("fields is a list of field names, not one string.")
    unknown = []
    for name in fields:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            unknown.append(name)
    if unknown:
        raise ValueError(f"{model._meta.label} has no field {', '.join(map(repr, unknown))}.")


class ChangedBy(models.Expression):
    """True for the rows whose history has an entry matching `spec` (filter(ChangedBy(...)))."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, spec: EntryFilter) -> None:
        super().__init__()
        self.spec = spec
        self.history: Any = models.F("history")

    def get_source_expressions(self) -> list[Any]:
        return [self.history]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.history,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:
        column, column_params = compiler.compile(self.history)
        if column_params:  # a history column is a plain column: nothing to bind
            raise NotSupportedError("changed_by() filters on the history column itself.")
        sql, params = self.spec.row_sql(column, connection.vendor)
        return sql, tuple(params)


def audited_models() -> list[type[Model]]:
    """The concrete audited models whose table holds their history (a multi-table child's rows are its parent's)."""
    from .fields import HistoryField

    found = []
    for model in apps.get_models():
        try:
            field = model._meta.get_field("history")
        except FieldDoesNotExist:
            continue
        if isinstance(field, HistoryField) and field.model is model and not model._meta.proxy:
            found.append(model)
    return found


def activity(
    user: Any = None,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    models: Iterable[type[Model] | str] | None = None,
    *,
    anyone: bool | None = None,
) -> "Activity":
    """The entries of every audited model (or of `models`: classes or "app_label.Model" labels), newest first, by
    `user` (a user or a primary key; every user's when None) in [since, until). Each is the entry with its
    "model" (label), "pk" and "index" (its position in the row's history) added. A lazily paged sequence: slicing
    or iterating it costs at most one query per model per page, len() one COUNT per model."""
    chosen = audited_models() if models is None else [_audited(model) for model in models]
    spec = EntryFilter.of(user, since, until, anyone=user is None if anyone is None else anyone)
    return Activity(chosen, spec)


def _audited(model: type[Model] | str) -> type[Model]:
    if isinstance(model, str):
        try:
            model = apps.get_model(model)
        except (LookupError, ValueError) as error:
            raise ValueError(f"{model!r} is not a model label (app_label.ModelName).") from error
    for candidate in audited_models():
        if issubclass(model, candidate):  # a proxy or multi-table child: its rows' history is this model's
            return candidate
    raise ValueError(f"{model._meta.label} keeps no history: it is not a TrackableModel.")


class Activity(Sequence[dict[str, Any]]):
    """The activity feed: see `activity()`. Reads each model's newest matching entries as far down the feed as
    asked, merges them by time (newest first; ties by model label, key and position, newest first)."""

    def __init__(self, models: Sequence[type[Model]], spec: EntryFilter) -> None:
        self.models = list(dict.fromkeys(models))
        self.spec = spec
        self._fetched: dict[type[Model], tuple[int, list[tuple[Any, ...]]]] = {}
        self._length: int | None = None

    def __repr__(self) -> str:
        return f"<Activity of {len(self.models)} models>"

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(self._count(model) for model in self.models)
        return self._length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            start, stop, step = index.start or 0, index.stop, index.step or 1
            if start < 0 or (stop is not None and stop < 0) or step < 1:
                start, stop, step = index.indices(len(self))
            if stop is None:
                stop = len(self)
            return self._first(stop)[start:stop:step]
        if index < 0:
            index += len(self)
        if index < 0:
            raise IndexError("activity index out of range")
        found = self._first(index + 1)
        if index >= len(found):
            raise IndexError("activity index out of range")
        return found[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            page = self[start : start + PAGE_SIZE]
            yield from page
            if len(page) < PAGE_SIZE:
                return
            start += PAGE_SIZE

    def _first(self, count: int) -> list[dict[str, Any]]:
        """The first `count` items of the feed."""
        rows = [row for model in self.models for row in self._newest(model, count)]
        rows.sort(key=lambda row: row[:4], reverse=True)
        return [_item(row) for row in rows[:count]]

    def _newest(self, model: type[Model], count: int) -> list[tuple[Any, ...]]:
        """(at, label, pk, position, entry) of the `count` newest matching entries of `model` (one query, unless an
        earlier read fetched as many)."""
        known = self._fetched.get(model)
        if known is not None and (known[0] >= count or len(known[1]) < known[0]):
            return known[1][:count]
        count = max(count, PAGE_SIZE)
        rows = self._query(model, count)
        self._fetched[model] = (count, rows)
        return rows

    def _query(self, model: type[Model], limit: int) -> list[tuple[Any, ...]]:
        connection, table, pk, history = _table(model)
        vendor = connection.vendor
        if vendor == "postgresql":
            condition, params = self.spec.entry_sql("e.entry", vendor)
            rows_condition, rows_params = self.spec.user_rows_sql(f"t.{history}")
            params = [*rows_params, *params]
            sql = (
                f"SELECT t.{pk}, e.entry::text, e.position FROM {table} AS t CROSS JOIN LATERAL "  # noqa: S608
                f"jsonb_array_elements({_pg_array('t.' + history)}) WITH ORDINALITY AS e(entry, position) "
                f"WHERE {rows_condition}{condition} ORDER BY e.entry ->> 'at' DESC, t.{pk} DESC, e.position DESC "
                "LIMIT %s"
            )
        else:
            condition, params = self.spec.entry_sql(_SQLITE_ENTRY, vendor)
            sql = (
                f"SELECT t.{pk}, e.value, e.key + 1 FROM {table} AS t, json_each({_sqlite_array('t.' + history)}) AS e "  # noqa: S608
                f"WHERE {condition} ORDER BY json_extract(e.value, '$.at') DESC, t.{pk} DESC, e.key DESC LIMIT %s"
            )
        label = model._meta.label_lower
        pk_field = model._meta.pk
        found = []
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, limit])
            for pk_value, entry, position in cursor.fetchall():
                entry = json.loads(entry) if isinstance(entry, str) else entry
                found.append((entry["at"], label, pk_field.to_python(pk_value), position, entry))
        return found

    def _count(self, model: type[Model]) -> int:
        connection, table, _pk, history = _table(model)
        vendor = connection.vendor
        if vendor == "postgresql":
            condition, params = self.spec.entry_sql("e.entry", vendor)
            elements = f"jsonb_array_elements({_pg_array('t.' + history)}) AS e(entry)"
            rows_condition, rows_params = self.spec.user_rows_sql(f"t.{history}")
            params = [*rows_params, *params]
            sql = f"SELECT COUNT(*) FROM {table} AS t CROSS JOIN LATERAL {elements} WHERE {rows_condition}{condition}"  # noqa: S608
        else:
            condition, params = self.spec.entry_sql(_SQLITE_ENTRY, vendor)
            sql = (
                f"SELECT COUNT(*) FROM {table} AS t, json_each({_sqlite_array('t.' + history)}) AS e WHERE {condition}"  # noqa: S608
            )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]


def _table(model: type[Model]) -> tuple[Any, str, str, str]:
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name
    history = model._meta.get_field("history")
    column = history.column if isinstance(history, Field) else None
    return connection, quote(model._meta.db_table), quote(str(model._meta.pk.column)), quote(column or "history")


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    _at, label, pk, position, entry = row
    return {**entry, "model": label, "pk": pk, "index": position - 1}
