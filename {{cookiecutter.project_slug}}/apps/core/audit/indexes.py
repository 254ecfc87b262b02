"""HistoryIndex: the index `changed_by()` and `activity()` use on PostgreSQL, which every audited model's table gets.

It is a GIN index of who acted in each row's entries: of `jsonb_path_query_array(history, '$[*].by')`, the list of
the entries' "by" values, with the `jsonb_path_ops` operator class. It answers containment, "the rows with an entry by
user 7" (`jsonb_path_query_array(history, '$[*].by') @> '[7]'`, see feed.py), without reading the other rows. It
holds a handful of keys per row (one per user who ever changed it), so a save keeps it up to date for little: an index
of the whole history holds every path and value of every entry, which each save of a row with a long history would
index again (about 1 ms a save at 1,000 entries, make bench, table 10). SQLite has no such index: there the migration
that adds it creates nothing (`changed_by()` scans, in SQL), so one migration serves both databases.

Each concrete audited model whose table holds its history gets one as it is defined (see `add_history_index()`),
whatever Meta it declares, so `makemigrations` adds it for a project's own models: one `AddIndex` per model, named
`<table>_<hash>_gin` as Django names unnamed indexes. Migrations name it by its public path, `apps.core.indexes`.
`HistoryIndex()` without `key`, as migrations written before it took one say it, is the index of the whole history
they created; `makemigrations` replaces it with the index of the actors.
"""

from typing import Any

from django.db import models
from django.db.backends.ddl_references import Columns, Statement, Table
from django.db.models.signals import class_prepared

from .django_internals import add_meta_index


class _NothingToCreate(str):
    """The statement of an index this database does not get: a comment, which executes as nothing."""

    __slots__ = ()


# The entries' key for who acted: what the index add_history_index() gives every audited model holds.
ACTOR_KEY = "by"


def values_under(history: str, key: str = ACTOR_KEY) -> str:
    """SQL: the list of the values the entries of `history` (SQL) hold under `key`, the expression a
    HistoryIndex(key=key) indexes. A query must spell it the same way for the planner to use the index."""
    return f"jsonb_path_query_array({history}, '$[*].{key}')"


class HistoryIndex(models.Index):
    suffix = "gin"

    def __init__(self, *, key: str | None = None, name: str = "") -> None:
        if key is not None and not key.isidentifier():
            raise ValueError(f"HistoryIndex(key={key!r}): the key is the name of an entry's key, such as 'by'.")
        self.key = key
        super().__init__(fields=["history"], name=name)

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        _path, _args, kwargs = super().deconstruct()
        kwargs.pop("fields", None)
        if self.key is not None:
            kwargs["key"] = self.key
        return "apps.core.indexes.HistoryIndex", (), kwargs

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return _NothingToCreate(f"-- {self.name}: a GIN index of the history, on PostgreSQL only")
        if self.key is None:
            index = models.Index(fields=["history"], name=self.name, opclasses=["jsonb_path_ops"])
            return index.create_sql(model, schema_editor, using=" USING gin", **kwargs)
        quote = schema_editor.quote_name
        table = Table(model._meta.db_table, quote)
        return Statement(
            f"CREATE INDEX %(concurrently)s%(name)s ON %(table)s USING gin ({values_under('%(column)s', self.key)} "
            "jsonb_path_ops)",
            concurrently="CONCURRENTLY " if kwargs.get("concurrently") else "",  # AddIndexConcurrently asks for it
            name=quote(self.name),
            table=table,
            column=Columns(table.table, [model._meta.get_field("history").column], quote),
        )

    def remove_sql(self, model: Any, schema_editor: Any, **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return _NothingToCreate(f"-- {self.name}: a GIN index of the history, on PostgreSQL only")
        return super().remove_sql(model, schema_editor, **kwargs)


def add_history_index(sender: type[models.Model], **kwargs: Any) -> None:
    """class_prepared: give a concrete audited model whose table holds the history a HistoryIndex, unless its Meta
    names one already. Models that are not audited, proxies, and migrations' historical models get none."""
    from .fields import HistoryField

    opts = sender._meta
    if opts.abstract or opts.proxy or getattr(sender, "history_bookkeeping_fields", None) is None:
        return
    field = next((field for field in opts.local_fields if field.name == "history"), None)
    if not isinstance(field, HistoryField):
        return
    if any(isinstance(index, HistoryIndex) for index in opts.indexes):
        return
    index = HistoryIndex(key=ACTOR_KEY)
    index.set_name_with_model(sender)
    add_meta_index(sender, index)


class_prepared.connect(add_history_index, dispatch_uid="apps.core.audit.indexes.add_history_index")
