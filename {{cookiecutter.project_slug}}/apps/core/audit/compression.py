"""On PostgreSQL, the history's columns are compressed with lz4 rather than the server's default, pglz.

A long history is one large JSON value, which PostgreSQL keeps compressed and out of line (TOAST). Every save that
appends an entry reads the value whole, decompresses it, writes it back and compresses it again; lz4 does that in about
half pglz's time, so the save of a row with a long history costs less (make bench, table 10). A column's compression
only decides how the values written from then on are stored: values already written stay readable as they are.

Django's migrations have no operation for a column's compression, so it is set after each `migrate` (post_migrate), on
the history columns of the database just migrated that do not have it yet: one catalog query, then, the first time
only, one `ALTER TABLE ... SET COMPRESSION` per table, which changes the catalog and rewrites no data. A server built
without lz4 keeps pglz, and so does a table the migrating role may not alter (a warning says which); SQLite does not
compress.
"""

import logging
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connections, router, transaction

from .archive import ArchivedHistory
from .expressions import column_of
from .fields import HistoryField

logger = logging.getLogger(__name__)

# The archive's columns that hold what a history held.
_ARCHIVE_COLUMNS = ("entries", "values")


def history_columns(using: str) -> list[tuple[str, str]]:
    """(table, column) of every history column that `using` holds: each concrete audited model's own history
    column, and the archive's."""
    columns = []
    for model in apps.get_models():
        opts = model._meta
        if opts.proxy or not opts.managed or not router.allow_migrate_model(using, model):
            continue
        for field in opts.local_fields:
            if isinstance(field, HistoryField) or (model is ArchivedHistory and field.name in _ARCHIVE_COLUMNS):
                columns.append((opts.db_table, column_of(field)))
    return columns


def compress_with_lz4(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: set lz4 on the history columns of `using` that do not have it yet, when the server has lz4."""
    connection = connections[using]
    columns = history_columns(using) if connection.vendor == "postgresql" else []
    if not columns:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        if not cursor.fetchone()[0]:
            return
        tables, names = zip(*columns, strict=True)
        cursor.execute(
            "SELECT c.name, c.column_name FROM unnest(%s::text[], %s::text[]) AS c(name, column_name) "
            "JOIN pg_attribute AS a ON a.attrelid = to_regclass(quote_ident(c.name)) AND a.attname = c.column_name "
            "WHERE a.attcompression <> 'l'",
            [list(tables), list(names)],
        )
        uncompressed = cursor.fetchall()
    if not uncompressed:
        return
    quote = connection.ops.quote_name
    for table, column in uncompressed:
        try:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET COMPRESSION lz4")
        except DatabaseError as error:  # a role that may migrate but not alter this table: only slower, never lost
            logger.warning("%s.%s keeps the server's default compression: %s", table, column, str(error).strip())
