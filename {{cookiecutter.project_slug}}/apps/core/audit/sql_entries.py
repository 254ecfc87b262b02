"""History entries of a QuerySet.update(), built by the database inside the UPDATE itself.

In an UPDATE every expression sees the row as it was, so the database can compare each row's old value with its new
one and append the entry (`{"at", "by", "by_name", "action", "changes": {field: {"old", "new"}}}`) in the very
statement that writes the values: one statement for the whole queryset, nothing read into Python, and no row can
change between reading its old value and writing it.

The database spells each value in the JSON form `entries.stored_form()` gives it in Python, for the field types
whose stored form it can spell exactly: integers, booleans, text, decimals, dates, datetimes (UTC), UUIDs, foreign
keys to those, and JSON. An update of any other field type (or of a field in another table of a multi-table model)
is audited in Python instead (see querysets.py).
"""

import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import models

from .expressions import column_of

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

_TEXTS = (models.CharField, models.TextField)
# The output field of a constant's JSON form (made once: a Value without one makes a field on every resolve).
_TEXT: models.Field = models.TextField()

# How each database spells a value of each kind in its stored JSON form; {0} is the value's SQL.
_SPELLINGS = {
    "postgresql": {
        "json": "({0})::jsonb",
        "boolean": "to_jsonb(({0})::boolean)",
        "integer": "to_jsonb(({0})::bigint)",
        "text": "to_jsonb(({0})::text)",
        "decimal": "to_jsonb((({0})::numeric({digits}, {places}))::text)",
        # As Python's isoformat(timespec="microseconds") spells it in UTC.
        "datetime": "to_jsonb(to_char(({0})::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'))",
        "date": "to_jsonb(({0})::date::text)",
        "uuid": "to_jsonb(({0})::uuid::text)",
    },
    "sqlite": {
        "json": "json({0})",
        "boolean": "(CASE WHEN ({0}) IS NULL THEN NULL WHEN ({0}) THEN json('true') ELSE json('false') END)",
        "integer": "CAST(({0}) AS INTEGER)",
        "text": "CAST(({0}) AS TEXT)",
        "decimal": "(CASE WHEN ({0}) IS NULL THEN NULL ELSE printf('%%.{places}f', ({0})) END)",
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC: six digits and "+00:00" added, as in Python.
        "datetime": "(CASE WHEN ({0}) IS NULL THEN NULL ELSE replace(substr(({0}), 1, 19), ' ', 'T') || '.' || "
        "substr(substr(({0}), 21) || '000000', 1, 6) || '+00:00' END)",
        "date": "CAST(({0}) AS TEXT)",
        # Django stores a UUID as 32 hex digits there.
        "uuid": "(CASE WHEN ({0}) IS NULL THEN NULL ELSE lower(substr(({0}), 1, 8) || '-' || substr(({0}), 9, 4) || "
        "'-' || substr(({0}), 13, 4) || '-' || substr(({0}), 17, 4) || '-' || substr(({0}), 21, 12)) END)",
    },
}

_STATEMENTS = {
    "postgresql": {
        "empty": "'" + "{}" + "'::jsonb",  # (written so that cookiecutter's Jinja, which renders this file, leaves it)
        "given": "({0})::jsonb",
        "differ": "({old} IS DISTINCT FROM {new})",
        # A value the database computes is compared as the column stores it (cast to its type): cheaper than
        # comparing JSON forms, and as strict.
        "differ_stored": "(({old}) IS DISTINCT FROM ({new})::{db_type})",
        "change": "CASE WHEN {differ} THEN jsonb_build_object({name}::text, jsonb_build_object('old', {old}, "
        "'new', {new})) ELSE {empty} END",
        "changes": "({empty} || {parts})",
        "join": " || ",
        "single": "jsonb_build_object({name}::text, jsonb_build_object('old', {old}, 'new', {new}))",
        # The same head for every row (when, by whom, what), one parameter; only the changes are built per row.
        "entry": "({head}::jsonb || jsonb_build_object('changes', {changes}))",
        "append": "CASE WHEN {changed} THEN COALESCE({history}, '[]'::jsonb) || {entry} ELSE {history} END",
    },
    "sqlite": {
        "empty": "json('" + "{}" + "')",
        "given": "json({0})",
        "differ": "(json_quote({old}) IS NOT json_quote({new}))",
        # [name, change] pairs gathered into one object (json_patch would drop the changes' null values).
        "change": "CASE WHEN {differ} THEN json_array({name}, json_object('old', {old}, 'new', {new})) END",
        "changes": "(SELECT json_group_object(pair.value ->> 0, json(pair.value -> 1)) "
        "FROM json_each(json_array({parts})) AS pair WHERE pair.type = 'array')",
        "join": ", ",
        "single": "json_object({name}, json_object('old', {old}, 'new', {new}))",
        "entry": "json_set({head}, '$.changes', json({changes}))",
        "append": "CASE WHEN {changed} THEN json_insert(COALESCE({history}, '[]'), '$[#]', {entry}) ELSE {history} END",
    },
}


def can_build(model: type[models.Model], fields: Iterable[models.Field], vendor: str) -> bool:
    """Whether the database can write the entry for an update of `fields` (all in the history's own table)."""
    table = model._meta.get_field("history").model
    return vendor in _SPELLINGS and all(field.model is table and _kind(field) is not None for field in fields)


class ByRow(models.Expression):
    """Each row's own new value in its JSON form, looked up by primary key in one JSON parameter ({pk: JSON form}):
    for bulk_update(), whose new values are known in Python, so that the entry does not spell Django's CASE of one
    WHEN per row a second and third time (in the test for a change and in the change itself)."""

    output_field = models.JSONField()
    templates = {
        "postgresql": "NULLIF((%s::jsonb) -> ({pk})::text, 'null'::jsonb)",
        "sqlite": "((%s) -> ('$.\"' || CAST(({pk}) AS TEXT) || '\"'))",
    }

    def __init__(self, values: dict[Any, Any]) -> None:
        super().__init__()
        self.values = values
        self.pk: Any = models.F("pk")

    @staticmethod
    def applies_to(pks: Iterable[Any]) -> bool:
        """Whether rows keyed `pks` can be looked up: one column each (not a composite key), and on SQLite a key is
        spelled inside a JSON path."""
        return not any(isinstance(pk, tuple) or (isinstance(pk, str) and ('"' in pk or "\\" in pk)) for pk in pks)

    def get_source_expressions(self) -> list[Any]:
        return [self.pk]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.pk,) = exprs

    def as_sql(self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper") -> "_AsSqlType":
        pk_sql, pk_params = compiler.compile(self.pk)
        target = self.pk.target  # the primary key's Col: keys as the database spells them in text
        keyed = {str(target.get_db_prep_value(pk, connection)): value for pk, value in self.values.items()}
        return self.templates[connection.vendor].format(pk=pk_sql), (json.dumps(keyed), *pk_params)


class ResolvedOnce:
    """A new value that both the UPDATE's SET and its entry hold, resolved by Django once per query: its SQL is
    compiled twice (the entry compares and records it), but the expression is resolved, and copied, only once."""

    def __init__(self, expression: Any) -> None:
        self.expression = expression
        self.query: Any = None
        self.resolved: Any = None

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self.resolved is None or self.query is not query:
            self.query, self.resolved = query, self.expression.resolve_expression(query, *args, **kwargs)
        return self.resolved


class AppendUpdateEntry(models.Expression):
    """`history || [entry]` for each row whose tracked values change, `history` otherwise.

    `changes` is [(field, new value)]: the new value is an expression (the database computes it, and spells its
    JSON form), the JSON form of a constant (computed once, in Python, by `entries.stored_form()`), or each row's
    own JSON form (`ByRow`).
    """

    output_field = models.JSONField()

    def __init__(self, changes: Sequence[tuple[models.Field, Any]], entry: dict[str, Any]) -> None:
        super().__init__()
        self.fields = [field for field, _value in changes]
        self.computed = [
            hasattr(value, "resolve_expression") and not isinstance(value, ByRow) for _field, value in changes
        ]
        # Only the new values are expressions for Django to resolve: the columns (the history and each field's old
        # value) are named as they are, which in an UPDATE's SET means the row's own, as it was.
        self.expressions: list[Any] = [
            value if hasattr(value, "resolve_expression") else models.Value(json.dumps(value), output_field=_TEXT)
            for _field, value in changes
        ]
        self.entry = entry
        self.resolved_for: Any = None

    def resolve_expression(self, query: Any = None, *args: Any, **kwargs: Any) -> "AppendUpdateEntry":
        """Resolved once per query: Django's compiler resolves the UPDATE's values again before it compiles them."""
        if self.resolved_for is not None and self.resolved_for is query:
            return self
        resolved = super().resolve_expression(query, *args, **kwargs)
        resolved.resolved_for = query
        return resolved

    def get_source_expressions(self) -> list[Any]:
        return self.expressions

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.expressions = list(exprs)

    def as_sql(self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper") -> "_AsSqlType":
        compiled = [compiler.compile(expression) for expression in self.expressions]
        head = {name: value for name, value in self.entry.items() if name != "changes"}
        # The statement's SQL depends only on its shape (the fields, and the SQL of each new value): assembled once
        # per shape, its parameters refilled from this update's on every later one.
        key = (connection.alias, tuple(self.fields), tuple(self.computed), tuple(sql for sql, _params in compiled))
        shape = _SHAPES.get(key)
        if shape is None:
            slotted = [
                (sql, [_Slot(index, n) for n in range(len(params))]) for index, (sql, params) in enumerate(compiled)
            ]
            shape = self._assembled(connection, slotted)
            if len(_SHAPES) >= _MAX_SHAPES:
                _SHAPES.clear()
            _SHAPES[key] = shape
        sql, template = shape
        params = [
            (json.dumps(head) if param.index is None else compiled[param.index][1][param.n])
            if isinstance(param, _Slot)
            else param
            for param in template
        ]
        return sql, tuple(params)

    def _assembled(self, connection: "BaseDatabaseWrapper", compiled: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
        """The statement's SQL and its parameters, each new value's parameters and the entry's head as `_Slot`s."""
        spelling, statement = _SPELLINGS[connection.vendor], _STATEMENTS[connection.vendor]
        quote = connection.ops.quote_name
        history = quote(column_of(cast(models.Field, self.fields[0].model._meta.get_field("history"))))
        differ, parts, empty = [], [], _Sql(statement["empty"])
        for index, field in enumerate(self.fields):
            kind = _kind(field)
            template = spelling[kind[0]] if isinstance(kind, tuple) else spelling[kind]
            places = {"places": kind[1], "digits": kind[2]} if isinstance(kind, tuple) else {}
            column_sql = quote(column_of(field))
            old = _Sql.spelled(template, column_sql, [], **places)
            new_sql, new_params = compiled[index]
            new = _Sql.spelled(template if self.computed[index] else statement["given"], new_sql, new_params, **places)
            if self.computed[index] and "differ_stored" in statement:
                template = statement["differ_stored"].replace("{db_type}", cast(str, field.cast_db_type(connection)))  # type: ignore[attr-defined, unused-ignore]
                test = _Sql.of(template, old=_Sql(column_sql), new=_Sql(new_sql, new_params))
            else:
                test = _Sql.of(statement["differ"], old=old, new=new)
            differ.append(test)
            name = _Sql("%s", [field.name])
            if len(self.fields) == 1:  # the entry is written only when this one field changed
                changes = _Sql.of(statement["single"], name=name, old=old, new=new)
            else:
                parts.append(_Sql.of(statement["change"], differ=test, name=name, old=old, new=new, empty=empty))
        if parts:
            joined = _Sql(
                statement["join"].join(part.sql for part in parts), [p for part in parts for p in part.params]
            )
            changes = _Sql.of(statement["changes"], parts=joined, empty=empty)
        entry = _Sql.of(statement["entry"], changes=changes, head=_Sql("%s", [_Slot(None, 0)]))
        changed = _Sql(" OR ".join(test.sql for test in differ), [p for test in differ for p in test.params])
        result = _Sql.of(statement["append"], changed=changed, history=_Sql(history), entry=entry)
        return result.sql, result.params


class _Slot:
    """In an assembled statement's parameters, where this update's own go: parameter `n` of new value `index`, or
    the entry's head (`index` None)."""

    __slots__ = ("index", "n")

    def __init__(self, index: int | None, n: int) -> None:
        self.index, self.n = index, n


# {(database alias, fields, which are computed, each new value's SQL): (SQL, parameters with _Slots)}.
_SHAPES: dict[tuple[Any, ...], tuple[str, list[Any]]] = {}
_MAX_SHAPES = 512


class _Sql:
    """A piece of SQL and its parameters, in the order the placeholders appear."""

    def __init__(self, sql: str, params: Iterable[Any] = ()) -> None:
        self.sql, self.params = sql, list(params)

    @classmethod
    def spelled(cls, template: str, sql: str, params: Sequence[Any], **extra: Any) -> "_Sql":
        """`template` with {0} (possibly repeated) filled by `sql`: its parameters are repeated alike."""
        return cls(template.format(sql, **extra), list(params) * template.count("{0}"))

    @classmethod
    def of(cls, template: str, **parts: "_Sql") -> "_Sql":
        """`template` with its {name} parts filled; the parameters follow the parts in the order they appear."""
        params = [param for match in _PART.finditer(template) for param in parts[match.group(1)].params]
        return cls(template.format(**{name: part.sql for name, part in parts.items()}), params)


_PART = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


def _kind(field):
    if isinstance(field, models.ForeignKey):
        return _kind(field.target_field)
    if isinstance(field, models.JSONField):
        return "json"
    if isinstance(field, models.BooleanField):
        return "boolean"
    if isinstance(field, models.IntegerField):  # all of them, auto fields included
        return "integer"
    if isinstance(field, _TEXTS):
        return "text"
    if isinstance(field, models.DecimalField):
        return ("decimal", field.decimal_places, field.max_digits)
    if isinstance(field, models.DateTimeField):
        return "datetime" if settings.USE_TZ else None
    if isinstance(field, models.DateField):
        return "date"
    if isinstance(field, models.UUIDField):
        return "uuid"
    return None
