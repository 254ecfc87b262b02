"""Audited rows deleted for real leave their history in the archive, in the transaction that deletes them.

Every real delete in Django ends in `Collector.delete()`: Model.delete() (and so TimestampedModel.hard_delete()),
QuerySet.delete() (and hard_delete()), the admin's delete and bulk delete action, and every CASCADE from a deleted
parent or user, including the fast deletes the Collector runs as a raw DELETE without loading the rows.
`django_internals.before_collector_delete()` runs `archive_collected()` just before it, in the same transaction,
and writes one INSERT ... SELECT per model that copies each row's history, its final "delete" entry appended, and its
last tracked values into ArchivedHistory. The database spells the values in their stored form itself, as it does for
QuerySet.update()'s entries (sql_entries.py).

- Rows the Collector deletes with a raw DELETE (a QuerySet.delete() with nothing to cascade) that were deleted in
  their own right (no foreign key of theirs points to another row of this deletion) never enter Python: the INSERT
  selects them with the very subquery the DELETE uses.
- Otherwise one SELECT per model first reads their keys and the foreign keys that say which row's deletion took
  them (their "cause"), and the INSERT takes the keys as one array, per 10,000 rows; a model whose fields the
  database cannot spell, or whose __str__ is its own, has its rows loaded for those.

A delete that rolls back takes its archive records with it.

Django 6.1's database-level variants (`DB_CASCADE`) cannot reach an audited row: Django refuses a model mixing them
with Python-level ones (models.E050), and every audited model has `created_by` and `updated_by` (SET_NULL).

A multi-table child keeps one record, under its own model: its parents' rows go with it, and share its history.
"""

import json
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import deletion

from . import entries, sql_entries, tracker
from .archive import ArchivedHistory, insert_columns
from .sequence import audited, column, history_model, stored_pk

# Rows per INSERT ... SELECT.
_BATCH = 10_000

# Fields whose last values one INSERT can spell (PostgreSQL's functions take at most 100 arguments).
_MAX_SPELLED_FIELDS = 50

_INSERT = {
    "postgresql": (
        "INSERT INTO {archive} ({columns}) "
        "SELECT %s, COALESCE(extra.value ->> 'pk', {pk_text}), COALESCE(extra.value ->> 'repr', %s || {pk_text} || ')'), "
        "true, COALESCE(extra.value -> 'values', {values}), "
        "COALESCE(t.{history}, '[]'::jsonb) || jsonb_build_array(CASE WHEN extra.value -> 'cause' IS NOT NULL "
        "THEN %s::jsonb || jsonb_build_object('cause', extra.value -> 'cause') ELSE %s::jsonb END), "
        "jsonb_array_length(COALESCE(t.{history}, '[]'::jsonb)) + 1, "
        "COALESCE((t.{history} -> 0 ->> 'at')::timestamptz, %s), %s, %s "
        "FROM {table} AS t LEFT JOIN jsonb_each(%s::jsonb) AS extra ON extra.key = (t.{pk})::text "
        "WHERE {where}"
    ),
    "sqlite": (
        "INSERT INTO {archive} ({columns}) "
        "SELECT %s, COALESCE(extra.value ->> '$.pk', {pk_text}), "
        "COALESCE(extra.value ->> '$.repr', %s || {pk_text} || ')'), 1, "
        "COALESCE(json(extra.value -> '$.values'), {values}), "
        "json_insert(COALESCE(t.{history}, '[]'), '$[#]', json(CASE WHEN extra.value -> '$.cause' IS NOT NULL "
        "THEN json_set(%s, '$.cause', json(extra.value -> '$.cause')) ELSE %s END)), "
        "json_array_length(COALESCE(t.{history}, '[]')) + 1, "
        # The entry's ISO-8601 "at" in UTC, as Django stores a datetime there: "YYYY-MM-DD HH:MM:SS.ffffff".
        "COALESCE(replace(substr(t.{history} ->> '$[0].at', 1, 26), 'T', ' '), %s), %s, %s "
        "FROM {table} AS t LEFT JOIN json_each(%s) AS extra ON extra.key = t.{pk} "
        "WHERE {where}"
    ),
}

# The rows of one INSERT, by key: the keys as one parameter.
_LISTED = {
    "postgresql": "t.{pk} IN (SELECT unnest(%s::{pk_type}[]))",
    "sqlite": "t.{pk} IN (SELECT value FROM json_each(%s))",
}

_OBJECT = {"postgresql": "jsonb_build_object({0})", "sqlite": "json_object({0})"}
_TEXT: dict[str, dict[str, str | None]] = {
    "postgresql": {"integer": "(t.{0})::text", "text": "t.{0}", "uuid": "(t.{0})::text"},
    "sqlite": {"integer": "CAST(t.{0} AS TEXT)", "text": "t.{0}", "uuid": None},
}


class _Row:
    """One row to archive: its key, the rows whose deletion took it (by foreign key), and what the database cannot
    spell itself (its text, its last values), else None."""

    __slots__ = ("cause", "links", "pk", "text", "values")

    def __init__(self, pk: Any, links: list, text: str | None, values: dict | None) -> None:
        self.pk, self.links, self.text, self.values = pk, links, text, values
        self.cause: dict | None = None


def archive_collected(collector: deletion.Collector) -> None:
    """Archive the audited rows `collector` is about to delete (run inside its transaction, before it deletes)."""
    deletion_set = _DeletionSet(collector)
    if not deletion_set.audited:
        return
    now, user = tracker.bulk_moment()
    entry = entries.entry(entries.DELETE, {}, user, now)
    for model, querysets in deletion_set.selected_in_sql():
        write_selected(model, collector.using, querysets, entry, now)
    for model, rows in deletion_set.audited_rows():
        for start in range(0, len(rows), _BATCH):
            write_deleted(model, collector.using, rows[start : start + _BATCH], entry, now)


def needs_archive(collector: deletion.Collector) -> bool:
    """Whether anything `collector` deletes is audited (only then is a transaction of ours needed)."""
    return any(audited(model) for model in collector.data) or any(
        audited(queryset.model) for queryset in collector.fast_deletes
    )


def write_selected(
    model: type[models.Model], using: str, querysets: list[models.QuerySet], entry: dict, now: Any
) -> None:
    """One INSERT ... SELECT: a deleted-row record for each row the Collector's raw DELETEs of `querysets` remove,
    selected by their own subqueries, its history followed by `entry`. The database spells everything the record
    holds (see `spelled_in_sql()`); no row was deleted because of another, so none has a cause."""
    connection = connections[using]
    quote = connection.ops.quote_name
    pk = f"t.{quote(column(history_model(model), 'pk'))}"
    where, params = [], []
    for queryset in querysets:
        try:
            sql, subquery_params = queryset.values("pk").query.get_compiler(using).as_sql()
        except EmptyResultSet:  # filter(pk__in=[]): Django's DELETE of it sends no query either
            continue
        where.append(f"{pk} IN ({sql})")
        params += subquery_params
    if where:
        _insert(model, connection, entry, now, {}, " OR ".join(where), params)


def write_deleted(model: type[models.Model], using: str, rows: list[_Row], entry: dict, now: Any) -> None:
    """One INSERT ... SELECT: a deleted-row record for each of `rows`, holding the row's history (read by the
    database) followed by `entry` (with the row's cause, if any)."""
    connection = connections[using]
    vendor = connection.vendor
    opts = history_model(model)._meta
    pk = opts.pk
    pk_text = _pk_text(model, connection)
    extras = {}
    for row in rows:
        extra: dict[str, Any] = {}
        if pk_text is None:
            extra["pk"] = stored_pk(model, row.pk)
        if row.text is not None:
            extra["repr"] = row.text
        if row.values is not None:
            extra["values"] = row.values
        if row.cause is not None:
            extra["cause"] = row.cause
        if extra:
            extras[str(pk.get_db_prep_value(row.pk, connection))] = extra
    keys = [pk.get_db_prep_value(row.pk, connection) for row in rows]
    where = _LISTED[vendor].format(
        pk=connection.ops.quote_name(column(history_model(model), "pk")),
        pk_type=pk.cast_db_type(connection),  # type: ignore[attr-defined, unused-ignore]  # (5.2 stubs lack it)
    )
    key_param = keys if vendor == "postgresql" else json.dumps(keys, default=str)
    _insert(model, connection, entry, now, extras, where, [key_param])


def _insert(
    model: type[models.Model], connection: Any, entry: dict, now: Any, extras: dict, where: str, params: list
) -> None:
    """The INSERT ... SELECT of deleted-row records for the rows of `model` that `where` (SQL over its table, as
    `t`) selects, with `extras` ({stored key: {"pk", "repr", "values", "cause"}}) for what Python had to spell."""
    vendor = connection.vendor
    quote = connection.ops.quote_name
    opts = history_model(model)._meta
    sql = _INSERT[vendor].format(
        archive=quote(ArchivedHistory._meta.db_table),
        columns=insert_columns(quote),
        history=quote(column(model, "history")),
        table=quote(opts.db_table),
        pk=quote(column(history_model(model), "pk")),
        pk_text=_pk_text(model, connection) or "NULL",
        values=_values_sql(model, connection) or "NULL",
        where=where,
    )
    moment = connection.ops.adapt_datetimefield_value(now)
    entry_json = json.dumps(entry)
    head: list[Any] = [model._meta.label_lower, f"{model._meta.object_name} object (", entry_json, entry_json]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*head, moment, moment, moment, json.dumps(extras), *params])


def _pk_text(model: type[models.Model], connection: Any) -> str | None:
    """SQL spelling a row's key as the archive stores it (its stored form, as text), or None where Python must."""
    table = history_model(model)
    kind = sql_entries._kind(table._meta.pk)
    quoted = connection.ops.quote_name(column(table, "pk"))
    if kind == "uuid" and connection.vendor == "sqlite":
        return sql_entries._SPELLINGS["sqlite"]["uuid"].format(f"t.{quoted}")
    template = _TEXT.get(connection.vendor, {}).get(kind) if isinstance(kind, str) else None
    return None if template is None else template.format(quoted)


def _values_sql(model: type[models.Model], connection: Any) -> str | None:
    """SQL building the row's last tracked values as an object of stored forms, or None where Python must (a field
    type the database cannot spell exactly, a field in a parent's table, or too many fields)."""
    tracked = entries.tracked_fields(model)
    vendor = connection.vendor
    if len(tracked) > _MAX_SPELLED_FIELDS or not sql_entries.can_build(model, list(tracked), vendor):
        return None
    parts = []
    for field in tracked:
        kind = sql_entries._kind(field)
        extra = {"places": kind[1], "digits": kind[2]} if isinstance(kind, tuple) else {}
        template = sql_entries._SPELLINGS[vendor][kind[0] if isinstance(kind, tuple) else kind]
        column = f"t.{connection.ops.quote_name(field.column)}"
        parts.append(f"'{field.name}', {template.format(column, **extra)}")
    return _OBJECT[vendor].format(", ".join(parts)) if parts else _OBJECT[vendor].format("")


def spelled_in_sql(model: type[models.Model], connection: Any) -> bool:
    """Whether the database can spell a deleted row's whole record: its key and text, and its last values."""
    return _text_in_sql(model, connection) and _values_sql(model, connection) is not None


def _text_in_sql(model: type[models.Model], connection: Any) -> bool:
    """Whether the database can spell a deleted row's key as text and its text (the model keeps Django's default
    __str__, "<Model> object (<pk>)")."""
    return model.__str__ is models.Model.__str__ and _pk_text(model, connection) is not None


class _DeletionSet:
    """The rows one Collector deletes, by concrete model: what to archive, and why each row goes (its "cause")."""

    def __init__(self, collector: deletion.Collector) -> None:
        self.using = collector.using
        self.instances: dict[type[models.Model], dict[Any, models.Model]] = {}  # the rows the Collector loaded
        self.querysets: dict[type[models.Model], list[models.QuerySet]] = {}  # its fast deletes
        for model, instances in collector.data.items():
            if not model._meta.auto_created:
                self.instances.setdefault(_concrete(model), {}).update(
                    (instance.pk, instance) for instance in instances
                )
        for queryset in collector.fast_deletes:
            self.querysets.setdefault(_concrete(queryset.model), []).append(queryset)
        self.audited = [model for model in {*self.instances, *self.querysets} if audited(model)]
        self.loaded: dict[type[models.Model], dict[Any, _Row]] = {}

    def selected_in_sql(self) -> list[tuple[type[models.Model], list[models.QuerySet]]]:
        """(model, querysets) for each audited model whose rows are all deleted by raw DELETEs, in their own right
        (no cascading foreign key of the model points to a model of this deletion), with nothing for Python to
        spell and no multi-table parent or child in play. Those models leave `self.audited`: their rows are
        archived by the subqueries that delete them, and never read."""
        connection = connections[self.using]
        deleted = {*self.instances, *self.querysets}
        found = []
        for model in list(self.audited):
            if (
                model in self.instances
                or model._meta.parents
                or any(model in other._meta.all_parents for other in self.audited)
                or not _cascading_from(model).isdisjoint(deleted)
                or not spelled_in_sql(model, connection)
            ):
                continue
            found.append((model, self.querysets[model]))
            self.audited.remove(model)
        return found

    def audited_rows(self) -> list[tuple[type[models.Model], list[_Row]]]:
        """(model, rows) for each audited model, a multi-table child's rows under the child, each row's cause set."""
        for model in self.audited:
            self.loaded[model] = _load(model, self.using, self.instances.get(model, {}), self.querysets.get(model, ()))
        found = []
        for model in self.audited:
            children = {pk for other in self.audited if model in other._meta.all_parents for pk in self.loaded[other]}
            rows = [row for pk, row in self.loaded[model].items() if pk not in children]
            for row in rows:
                row.cause = self._cause(model, row.pk)
            if rows:
                found.append((model, rows))
        return found

    def _cause(self, model: type[models.Model], pk: Any) -> dict | None:
        """The row whose deletion started the cascade that deletes this one ({"model", "pk"}), or None for a row
        deleted in its own right."""
        root, seen = (model, pk), set()
        while root not in seen:
            seen.add(root)
            parent = self._parent(*root)
            if parent is None:
                break
            root = parent
        if root == (model, pk):
            return None
        return {"model": root[0]._meta.label_lower, "pk": entries.to_json(root[1])}

    def _parent(self, model: type[models.Model], pk: Any) -> tuple[type[models.Model], Any] | None:
        """The row of this deletion that the row's cascading foreign keys point to, if any."""
        row = self.loaded.get(model, {}).get(pk)
        if row is not None:
            links = row.links
        else:
            instance = self.instances.get(model, {}).get(pk)
            if instance is None:
                return None
            links = [(field, instance.__dict__.get(field.attname)) for field in _cascading_links(model)]
        for field, target in links:
            parent = field.related_model._meta.concrete_model
            if target is not None and (
                target in self.instances.get(parent, ()) or target in self.loaded.get(parent, ())
            ):
                return parent, target
        return None


def _concrete(model: type[models.Model]) -> type[models.Model]:
    return model._meta.concrete_model or model


def _cascading_from(model: type[models.Model]) -> set[type[models.Model]]:
    """The models whose rows' deletion cascades to rows of `model` (concrete models)."""
    related = (field.related_model for field in _cascading_links(model))
    return {_concrete(source) for source in related if isinstance(source, type)}  # a class once the apps are ready


def _cascading_links(model: type[models.Model]) -> list[models.Field]:
    """The foreign keys through which deleting another row deletes a row of `model` (not its parent links)."""
    return [
        field
        for field in model._meta.concrete_fields
        if (field.many_to_one or field.one_to_one)
        and not getattr(field.remote_field, "parent_link", False)
        and getattr(field.remote_field, "on_delete", None) is deletion.CASCADE
    ]


def _load(model, using, instances, querysets):
    """{pk: _Row} of the rows to archive: their keys and cascading foreign keys, and their text and last values
    where the database cannot spell them. From the Collector's own instances when they hold what is needed, else
    with one query per model (rows, not instances, unless the model's own __str__ needs them)."""
    links = _cascading_links(model)
    tracked = entries.tracked_fields(model)
    connection = connections[using]
    need_values = _values_sql(model, connection) is None
    need_text = not _text_in_sql(model, connection)
    needed = list(dict.fromkeys([*links, *(tracked if need_values else ())]))  # a tracked foreign key links too
    rows: dict[Any, _Row] = {}
    missing = []
    for pk, instance in instances.items():
        if any(field.attname not in instance.__dict__ for field in needed) or (need_text and _deferred(instance)):
            missing.append(pk)
        else:
            rows[pk] = _row_of(instance, links, tracked, need_values, need_text)
    sources = [model._base_manager.db_manager(using).filter(pk__in=queryset.values("pk")) for queryset in querysets]
    if missing:
        sources.append(model._base_manager.db_manager(using).filter(pk__in=missing))
    for source in sources:
        if need_text:
            for instance in source.defer("history"):
                rows.setdefault(instance.pk, _row_of(instance, links, tracked, need_values, need_text))
            continue
        attnames = [field.attname for field in needed]
        for pk, *values in source.values_list("pk", *attnames):
            if pk in rows:
                continue
            by_field = dict(zip(needed, values, strict=True))
            stored = (
                {field.name: entries.stored_form(field, by_field[field]) for field in tracked} if need_values else None
            )
            rows[pk] = _Row(pk, [(field, by_field[field]) for field in links], None, stored)
    return rows


def _row_of(instance, links, tracked, need_values, need_text):
    loaded = instance.__dict__
    return _Row(
        instance.pk,
        [(field, loaded.get(field.attname)) for field in links],
        _text(instance) if need_text else None,
        {field.name: entries.stored_form(field, loaded.get(field.attname)) for field in tracked}
        if need_values
        else None,
    )


def _deferred(instance):
    return bool(instance.get_deferred_fields() - {"history"})


def _text(instance):
    """The row's str(), cut to the archive's column; a __str__ that fails leaves the model's default text."""
    try:
        text = str(instance)
    except Exception:  # the row is being deleted: its text must not stop that
        text = f"{type(instance).__name__} object ({instance.pk})"
    return text[:200]
