"""On PostgreSQL, migrate leaves every history column compressed with lz4 (see audit/compression.py); SQLite is left
as it is."""

import logging
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.audit.compression import compress_with_lz4, history_columns
from apps.core.models import ArchivedHistory

from ..testapp.models import Document, Memo, Note

pytestmark = pytest.mark.django_db


def _compression(table, column):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s",
            [table, column],
        )
        return cursor.fetchone()[0]


def test_the_history_columns_are_each_audited_models_own_and_the_archives():
    columns = history_columns("default")
    assert (Document._meta.db_table, "history") in columns
    assert (Note._meta.db_table, "history") in columns
    assert (ArchivedHistory._meta.db_table, "entries") in columns
    assert (ArchivedHistory._meta.db_table, "values") in columns
    # A multi-table child's history is its parent's column.
    assert not [table for table, _column in columns if table == Memo._meta.db_table]


def test_migrate_compresses_every_history_column_with_lz4_on_postgresql_once():
    if connection.vendor != "postgresql":
        with CaptureQueriesContext(connection) as queries:
            compress_with_lz4(using="default")
        assert not queries.captured_queries  # SQLite does not compress: nothing is asked of it
        return
    # The test database was made by migrate, whose post_migrate set them.
    assert {_compression(table, column) for table, column in history_columns("default")} == {"l"}

    # A column without it (one added since, or set back by hand) gets it at the next migrate, and only then.
    table = Document._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN "history" SET COMPRESSION pglz')
    assert _compression(table, "history") == "p"
    with CaptureQueriesContext(connection) as queries:
        compress_with_lz4(using="default")
    alters = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("ALTER")]
    assert alters == [f'ALTER TABLE "{table}" ALTER COLUMN "history" SET COMPRESSION lz4']
    assert _compression(table, "history") == "l"

    with CaptureQueriesContext(connection) as queries:
        compress_with_lz4(using="default")
    assert len(queries.captured_queries) == 2  # the server's lz4, and the catalog: nothing left to alter


def test_a_table_the_role_may_not_alter_keeps_its_compression_with_a_warning_and_migrate_goes_on(caplog):
    table = Document._meta.db_table
    if connection.vendor != "postgresql":
        compress_with_lz4(using="default")
        assert not caplog.records
        return
    role = f"not_the_owner_{uuid.uuid4().hex}"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN "history" SET COMPRESSION pglz')
        cursor.execute(f'CREATE ROLE "{role}"')  # rolled back with the test
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        try:
            with caplog.at_level(logging.WARNING, logger="apps.core.audit.compression"):
                compress_with_lz4(using="default")
        finally:
            cursor.execute("RESET ROLE")
    (record,) = caplog.records
    assert record.getMessage().startswith(f"{table}.history keeps the server's default compression: must be owner")
    assert _compression(table, "history") == "p"
