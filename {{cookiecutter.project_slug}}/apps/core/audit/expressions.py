"""The SQL the audit trail writes with: appending to the history column inside the database, so that concurrent
writers each add their entry and none is lost, and leaving a column as the database holds it.

`AppendEntry` and `KeepColumn` are values a field's `pre_save()` can return (or a QuerySet.update() can set): Django
compiles anything with `as_sql()` into the statement. They are deliberately not expressions (no
`resolve_expression()`), so Django does not read the column back after a save (Django 6.0+ does that for
expressions, which would bring a long history back over the wire on every save).
"""

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from django.db import NotSupportedError, connections, models

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

_APPEND = {
    "postgresql": "COALESCE({column}, '[]'::jsonb) || jsonb_build_array(%s::jsonb)",
    "sqlite": "json_insert(COALESCE({column}, '[]'), '$[#]', json(%s))",
}

_APPEND_PER_ROW = {
    "postgresql": (
        "UPDATE {table} SET {column} = COALESCE({table}.{column}, '[]'::jsonb) || jsonb_build_array(entries.value) "
        "FROM jsonb_each(%s::jsonb) AS entries WHERE {table}.{pk} = (entries.key)::{pk_type}"
    ),
    "sqlite": (
        "UPDATE {table} SET {column} = json_insert(COALESCE({table}.{column}, '[]'), '$[#]', json(entries.value)) "
        "FROM json_each(%s) AS entries WHERE {table}.{pk} = entries.key"
    ),
}


class AppendEntry:
    """`<history column> || [entry]`, computed by the database."""

    def __init__(self, column: str, entry: dict[str, Any]) -> None:
        self.column = column
        self.entry = entry

    def as_sql(self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper") -> tuple[str, list[Any]]:
        return _append_sql(connection, self.column), [json.dumps(self.entry)]


# {(vendor, column): SQL} of AppendEntry: every save of a model appends to the same column the same way.
_APPEND_SQL: dict[tuple[str, str], str] = {}


def _append_sql(connection: "BaseDatabaseWrapper", column: str) -> str:
    key = (connection.vendor, column)
    sql = _APPEND_SQL.get(key)
    if sql is None:
        sql = _APPEND_SQL[key] = _template(_APPEND, connection).format(column=connection.ops.quote_name(column))
    return sql


class KeepColumn:
    """The column's own value: `SET col = col` leaves what the database holds (another process's write included)."""

    def __init__(self, column: str) -> None:
        self.column = column

    def as_sql(self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper") -> tuple[str, list[Any]]:
        return connection.ops.quote_name(self.column), []


class EntriesByRow:
    """The history column with each row's own entry appended, looked up by primary key in one JSON parameter:
    `history || (entries -> id)`. The database parses the parameter once per statement, so this is one UPDATE
    however many rows, each with its own entry (PostgreSQL)."""

    def __init__(self, model: type[models.Model], entries: Mapping[Any, dict[str, Any]]) -> None:
        history = _history_field(model)
        self.column = column_of(history)
        self.pk = history.model._meta.pk
        self.entries = entries

    def as_sql(self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper") -> tuple[str, list[Any]]:
        if connection.vendor != "postgresql":
            raise NotSupportedError("EntriesByRow is for PostgreSQL; elsewhere use append_entries().")
        column, pk = connection.ops.quote_name(self.column), connection.ops.quote_name(column_of(self.pk))
        keyed = {str(self.pk.get_db_prep_value(pk, connection)): [entry] for pk, entry in self.entries.items()}
        sql = f"COALESCE({column}, '[]'::jsonb) || COALESCE((%s::jsonb) -> ({pk})::text, '[]'::jsonb)"
        return sql, [json.dumps(keyed)]


def rows_among(
    model: type[models.Model], pks: Iterable[Any], connection: "BaseDatabaseWrapper"
) -> models.expressions.RawSQL:
    """A subquery of the primary keys `pks`, passed as one parameter (an array, or a JSON list on SQLite) rather than
    as one placeholder each: for `filter(pk__in=rows_among(...))` over thousands of rows."""
    pk = model._meta.pk
    values = [pk.get_db_prep_value(value, connection) for value in pks]
    if connection.vendor == "postgresql":
        array = f"SELECT unnest(%s::{pk.cast_db_type(connection)}[])"  # type: ignore[attr-defined, unused-ignore]
        return models.expressions.RawSQL(array, (values,), pk)  # noqa: S611
    return models.expressions.RawSQL("SELECT value FROM json_each(%s)", (json.dumps(values, default=str),), pk)


def append_entries(model: type[models.Model], using: str, entries: Mapping[Any, dict[str, Any]]) -> None:
    """Append `entries` ({pk: entry}) to the history of those rows of `model`, in one statement."""
    if not entries:
        return
    connection = connections[using]
    history = _history_field(model)
    opts = history.model._meta  # the table that holds the history (a parent's, under multi-table inheritance)
    quote = connection.ops.quote_name
    sql = _template(_APPEND_PER_ROW, connection).format(
        table=quote(opts.db_table),
        column=quote(column_of(history)),
        pk=quote(column_of(opts.pk)),
        pk_type=opts.pk.cast_db_type(connection),  # type: ignore[attr-defined, unused-ignore]  # (5.2 stubs lack it)
    )
    keyed = {str(opts.pk.get_db_prep_value(pk, connection)): entry for pk, entry in entries.items()}
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(keyed)])


def _history_field(model: type[models.Model]) -> models.Field:
    return cast(models.Field, model._meta.get_field("history"))


def column_of(field: models.Field) -> str:
    """The column of a concrete field (django-stubs types `Field.column` optional: a field may have none)."""
    if field.column is None:
        raise ValueError(f"{field!r} has no column.")
    return field.column


def _template(templates, connection):
    try:
        return templates[connection.vendor]
    except KeyError:
        raise NotSupportedError(
            f"The audit trail appends to its history column on PostgreSQL and SQLite, not on {connection.vendor}."
        ) from None


class HistoryLength(models.Func):
    """The number of entries in a history column."""

    output_field = models.IntegerField()

    def as_sql(
        self,
        compiler: "SQLCompiler",
        connection: "BaseDatabaseWrapper",
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> "_AsSqlType":
        functions = {"postgresql": "jsonb_array_length", "sqlite": "json_array_length"}
        _template(functions, connection)
        return super().as_sql(
            compiler, connection, functions[connection.vendor], template, arg_joiner, **extra_context
        )


class HistoryEntries(models.Func):
    """Entries `start` to `stop` (0-based, stop excluded) of a history column, cut out by the database, so that a
    page showing a few entries of a long history does not bring the whole of it over the wire."""

    output_field = models.JSONField()
    templates = {
        "postgresql": (
            "(SELECT COALESCE(jsonb_agg(entry ORDER BY position), '[]'::jsonb) "
            "FROM jsonb_array_elements({history}) WITH ORDINALITY AS entries(entry, position) "
            "WHERE position > %s AND position <= %s)"
        ),
        "sqlite": (
            # Each element as JSON whatever its type: json_each() gives a string's value unquoted, which json()
            # would refuse (an entry that is a plain string is not the trail's, but must not break the page).
            "(SELECT json_group_array(json(entry)) FROM (SELECT CASE entries.type WHEN 'text' THEN "
            "json_quote(entries.value) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' "
            "ELSE entries.value END AS entry FROM json_each({history}) "
            "AS entries WHERE entries.key >= %s AND entries.key < %s ORDER BY entries.key))"
        ),
    }

    def __init__(self, history: str | models.Expression, start: int, stop: int) -> None:
        super().__init__(history)
        self.start, self.stop = start, stop

    def as_sql(
        self,
        compiler: "SQLCompiler",
        connection: "BaseDatabaseWrapper",
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> "_AsSqlType":
        history, params = compiler.compile(self.source_expressions[0])
        template = _template(self.templates, connection)
        return template.format(history=history), (*params, self.start, self.stop)
