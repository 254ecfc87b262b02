"""Audited rows deleted for real leave their history in the archive, in the transaction that deletes them.

Every real delete in Django ends in `Collector.delete()`: Model.delete() (and so TimestampedModel.hard_delete()),
QuerySet.delete() (and hard_delete()), the admin's delete and bulk delete action, and every CASCADE from a deleted
parent or user, including the fast deletes the Collector runs as a raw DELETE without loading the rows.
`django_internals.before_collector_delete()` runs `archive_collected()` just before it, in the same transaction: it
reads the audited rows about to go (their key, tracked values and text) with one SELECT per model, and copies each
row's history, with its final "delete" entry appended, into ArchivedHistory with one INSERT ... SELECT per model
(the history itself never leaves the database). A delete that rolls back takes its archive records with it.

Django 6.1's database-level variants (`DB_CASCADE`) cannot reach an audited row: Django refuses a model mixing them
with Python-level ones (models.E050), and every audited model has `created_by` and `updated_by` (SET_NULL).

A multi-table child keeps one record, under its own model: its parents' rows go with it, and share its history.
"""

import json

from django.db import connections
from django.db.models import deletion

from . import entries, tracker
from .archive import ArchivedHistory
from .sequence import audited, history_model, stored_pk

# Rows per INSERT ... SELECT (their keys, values and delete entries travel as one JSON parameter).
_BATCH = 10_000

_INSERT = {
    "postgresql": (
        "INSERT INTO {archive} ({columns}) "
        "SELECT %s, row.value ->> 'pk', row.value ->> 'repr', true, row.value -> 'values', "
        "COALESCE(t.{history}, '[]'::jsonb) || jsonb_build_array(row.value -> 'entry'), "
        "jsonb_array_length(COALESCE(t.{history}, '[]'::jsonb)) + 1, "
        "COALESCE((t.{history} -> 0 ->> 'at')::timestamptz, %s), %s, %s "
        "FROM jsonb_each(%s::jsonb) AS row JOIN {table} AS t ON t.{pk} = (row.key)::{pk_type} ORDER BY t.{pk}"
    ),
    "sqlite": (
        "INSERT INTO {archive} ({columns}) "
        "SELECT %s, row.value ->> '$.pk', row.value ->> '$.repr', 1, json(row.value -> '$.values'), "
        "json_insert(COALESCE(t.{history}, '[]'), '$[#]', json(row.value -> '$.entry')), "
        "json_array_length(COALESCE(t.{history}, '[]')) + 1, "
        # The entry's ISO-8601 "at" in UTC, as Django stores a datetime there: "YYYY-MM-DD HH:MM:SS.ffffff".
        "COALESCE(replace(substr(t.{history} ->> '$[0].at', 1, 26), 'T', ' '), %s), %s, %s "
        "FROM json_each(%s) AS row JOIN {table} AS t ON t.{pk} = row.key ORDER BY t.{pk}"
    ),
}

_COLUMNS = (
    "model_label",
    "object_pk",
    "object_repr",
    "deleted",
    "values",
    "entries",
    "entry_count",
    "first_at",
    "last_at",
    "archived_at",
)


def archive_collected(collector):
    """Archive the audited rows `collector` is about to delete (run inside its transaction, before it deletes)."""
    deletion_set = _DeletionSet(collector)
    if not deletion_set.audited:
        return
    now, user = tracker.bulk_moment()
    for model, rows in deletion_set.audited_rows():
        archived = [
            (pk, values, text, entries.entry(entries.DELETE, {}, user, now, cause=deletion_set.cause(model, pk)))
            for pk, values, text in rows
        ]
        for start in range(0, len(archived), _BATCH):
            write_deleted(model, collector.using, archived[start : start + _BATCH], now)


def needs_archive(collector):
    """Whether anything `collector` deletes is audited (only then is a transaction of ours needed)."""
    return any(audited(model) for model in collector.data) or any(
        audited(queryset.model) for queryset in collector.fast_deletes
    )


def write_deleted(model, using, rows, now):
    """One INSERT ... SELECT: for each (pk, values, text, delete entry) of `rows`, a deleted-row record holding the
    row's history (read by the database) followed by its delete entry."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = history_model(model)._meta
    pk = table.pk
    keyed = {
        str(pk.get_db_prep_value(row_pk, connection)): {
            "pk": stored_pk(model, row_pk),
            "repr": text,
            "values": values,
            "entry": entry,
        }
        for row_pk, values, text, entry in rows
    }
    sql = _INSERT[connection.vendor].format(
        archive=quote(ArchivedHistory._meta.db_table),
        columns=", ".join(quote(ArchivedHistory._meta.get_field(name).column) for name in _COLUMNS),
        history=quote(model._meta.get_field("history").column),
        table=quote(table.db_table),
        pk=quote(pk.column),
        pk_type=pk.cast_db_type(connection),
    )
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [model._meta.label_lower, moment, moment, moment, json.dumps(keyed)])


class _DeletionSet:
    """The rows one Collector deletes, by concrete model: what to archive, and why each row goes (its "cause")."""

    def __init__(self, collector):
        self.using = collector.using
        self.instances = {}  # {concrete model: {pk: instance}} of the rows the Collector loaded
        self.querysets = {}  # {concrete model: [queryset]} of the fast deletes
        for model, instances in collector.data.items():
            if not model._meta.auto_created:
                self.instances.setdefault(model._meta.concrete_model, {}).update(
                    (instance.pk, instance) for instance in instances
                )
        for queryset in collector.fast_deletes:
            self.querysets.setdefault(queryset.model._meta.concrete_model, []).append(queryset)
        self.audited = [model for model in {*self.instances, *self.querysets} if audited(model)]
        self.parents = {}  # {(model, pk): (model, pk)} of the row whose deletion cascaded to this one
        self.loaded = {}  # {model: [(pk, values, text)]}

    def audited_rows(self):
        """(model, [(pk, last values, text)]) for each audited model, a multi-table child's rows under the child."""
        for model in self.audited:
            self.loaded[model] = _load(model, self.using, self.instances.get(model, {}), self.querysets.get(model, ()))
        for model, rows in self.loaded.items():
            for pk, _values, _text, links in rows:
                for field, target in links:
                    self.parents[(model, pk)] = (field.related_model._meta.concrete_model, target)
        for model in self.audited:
            children = {pk for other in self.audited if model in other._meta.all_parents for pk, *_ in self.loaded[other]}
            rows = [(pk, values, text) for pk, values, text, _links in self.loaded[model] if pk not in children]
            if rows:
                yield model, rows

    def cause(self, model, pk):
        """The row whose deletion started the cascade that deletes this one ({"model", "pk"}), or None for a row
        deleted in its own right."""
        root, seen = (model, pk), set()
        while root not in seen:
            seen.add(root)
            parent = self.parents.get(root) or self._loaded_parent(*root)
            if parent is None:
                break
            root = parent
        if root == (model, pk):
            return None
        return {"model": root[0]._meta.label_lower, "pk": entries.to_json(root[1])}

    def _loaded_parent(self, model, pk):
        """The row a non-audited row loaded by the Collector was deleted with, if any."""
        instance = self.instances.get(model, {}).get(pk)
        if instance is None:
            return None
        for field in _cascading_links(model):
            target = instance.__dict__.get(field.attname)
            parent = field.related_model._meta.concrete_model
            if target is not None and self._deletes(parent, target):
                return parent, target
        return None

    def _deletes(self, model, pk):
        return pk in self.instances.get(model, ()) or any(pk == row[0] for row in self.loaded.get(model, ()))


def _cascading_links(model):
    """The foreign keys through which deleting another row deletes a row of `model` (not its parent links)."""
    return [
        field
        for field in model._meta.concrete_fields
        if (field.many_to_one or field.one_to_one)
        and not field.remote_field.parent_link
        and field.remote_field.on_delete is deletion.CASCADE
    ]


def _load(model, using, instances, querysets):
    """[(pk, last stored values, text, [(foreign key, target)])] of the rows to archive: from the Collector's own
    instances when it loaded them whole, else with one query per model."""
    tracked = entries.tracked_fields(model)
    links = [field for field in _cascading_links(model)]
    whole = {pk: instance for pk, instance in instances.items() if not _deferred(instance, tracked, links)}
    missing = [pk for pk in instances if pk not in whole]
    sources = [*querysets]
    if missing:
        sources.append(model._base_manager.db_manager(using).filter(pk__in=missing))
    rows = dict(whole)
    for queryset in sources:
        for instance in model._base_manager.db_manager(using).filter(pk__in=queryset.values("pk")).defer("history"):
            rows.setdefault(instance.pk, instance)
    return [
        (
            pk,
            {field.name: entries.stored_form(field, instance.__dict__.get(field.attname)) for field in tracked},
            _text(instance),
            [(field, value) for field in links if (value := instance.__dict__.get(field.attname)) is not None],
        )
        for pk, instance in sorted(rows.items(), key=lambda item: str(item[0]))
    ]


def _deferred(instance, tracked, links):
    loaded = instance.__dict__
    return any(field.attname not in loaded for field in (*tracked, *links)) or bool(
        instance.get_deferred_fields() - {"history"}
    )


def _text(instance):
    """The row's str(), cut to the archive's column; a __str__ that fails leaves the model's default text."""
    try:
        text = str(instance)
    except Exception:  # the row is being deleted: its text must not stop that
        text = f"{type(instance).__name__} object ({instance.pk})"
    return text[:200]
