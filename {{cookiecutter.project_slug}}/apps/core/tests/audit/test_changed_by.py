"""MyModel.objects.changed_by(user, since, until, fields): the rows a user changed, answered in SQL; on PostgreSQL
through the history's GIN index, which every audited model's migrations create."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.operations import AddIndex, RemoveIndex
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ModelState, ProjectState
from django.utils import timezone

from apps.core.audit.indexes import HistoryIndex
from apps.core.current_user import acting_as

from ..factories import DocumentFactory, NoteFactory
from ..testapp.models import Document, Memo, Note, Order, ReusableHandle
from ..utils import stored_history, write_history

pytestmark = pytest.mark.django_db


def _changed(document, user, **values):
    with acting_as(user):
        for name, value in values.items():
            setattr(document, name, value)
        document.save()


def test_the_rows_a_user_changed(user, other_user):
    mine, theirs, untouched = DocumentFactory.create(), DocumentFactory.create(), DocumentFactory.create()
    _changed(mine, user, title="mine")
    _changed(theirs, other_user, title="theirs")

    assert list(Document.objects.changed_by(user)) == [mine]
    assert list(Document.objects.changed_by(other_user.pk)) == [theirs]
    assert set(Document.objects.changed_by(None)) == {mine, theirs, untouched}  # created with nobody acting


def test_a_window_and_fields(user):
    early, late = DocumentFactory.create(), DocumentFactory.create()
    _changed(early, user, views=5)
    middle = timezone.now()
    _changed(late, user, title="late")

    assert list(Document.objects.changed_by(user, since=middle)) == [late]
    assert list(Document.objects.changed_by(user, until=middle)) == [early]
    assert list(Document.objects.changed_by(user, fields=["views"])) == [early]
    assert set(Document.objects.changed_by(user, fields=["views", "title"])) == {early, late}
    assert not Document.objects.changed_by(user, since=middle, fields=["views"]).exists()


def test_it_is_a_queryset_that_chains(user):
    document = DocumentFactory.create(title="x")
    _changed(document, user, views=1)

    assert Document.objects.filter(title="x").changed_by(user).count() == 1
    assert Document.objects.changed_by(user).filter(title="y").count() == 0


def test_soft_deleted_rows_and_multi_table_children(user):
    note = NoteFactory.create()
    with acting_as(user):
        note.delete()
        memo = Memo.objects.create(title="m", code="c")

    assert list(Note.all_objects.changed_by(user)) == [note]
    assert list(Note.objects.changed_by(user)) == []  # objects still hides deleted rows
    assert list(Memo.objects.changed_by(user)) == [memo]


def test_entries_that_are_not_the_audit_trails_never_match_nor_raise(user):
    document = DocumentFactory.create()
    _changed(document, user, views=1)
    write_history(document, ["text", 7, None, {"by": user.pk}, *stored_history(document)])
    planted = DocumentFactory.create()
    write_history(planted, ["text", {"by": user.pk, "changes": "none"}])

    assert list(Document.objects.changed_by(user, since=timezone.now() - datetime.timedelta(days=1))) == [document]
    assert list(Document.objects.changed_by(user, fields=["views"])) == [document]


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="naive datetime"):
        Document.objects.changed_by(1, since=datetime.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match=r"testapp\.Document has no field 'titel'"):
        Document.objects.changed_by(1, fields=["titel"])
    with pytest.raises(TypeError, match="not one string"):
        Document.objects.changed_by(1, fields="title")
    with pytest.raises(ValueError, match="neither a user nor a user's primary key"):
        Document.objects.changed_by("not-a-key")


def test_every_audited_model_has_the_history_index_and_its_migration_creates_it():
    for model in (Document, Note, Order, ReusableHandle):  # ReusableHandle declares a Meta of its own
        (index,) = [index for index in model._meta.indexes if isinstance(index, HistoryIndex)]
        assert index.key == "by"
        assert index.name.endswith("_gin")
        assert len(index.name) <= 30
        state_indexes = ModelState.from_model(model).options["indexes"]
        assert [index.name for index in state_indexes if isinstance(index, HistoryIndex)] == [index.name]
    # A multi-table child's history is its parent's column: no index of its own.
    assert not [index for index in Memo._meta.indexes if isinstance(index, HistoryIndex)]


def test_makemigrations_replaces_an_index_of_the_whole_history_with_the_index_of_its_actors():
    """Migrations written before HistoryIndex took a key say HistoryIndex(name=...): the index of the whole history."""
    new = ModelState.from_model(Document)
    (index,) = [index for index in new.options["indexes"] if isinstance(index, HistoryIndex)]
    old = new.clone()
    old.options["indexes"] = [HistoryIndex(name=index.name)]
    before, after = ProjectState(), ProjectState()
    before.add_model(old)
    after.add_model(new)
    questioner = MigrationQuestioner(specified_apps={"testapp"})  # as `makemigrations testapp` asks
    changes = MigrationAutodetector(before, after, questioner).changes(graph=MigrationGraph())
    operations = [operation for migration in changes["testapp"] for operation in migration.operations]
    removed, added = operations
    assert isinstance(removed, RemoveIndex)
    assert isinstance(added, AddIndex)
    assert removed.name == index.name
    assert added.index.deconstruct() == ("apps.core.indexes.HistoryIndex", (), {"key": "by", "name": index.name})
    # The index those migrations create is still the one they created.
    editor = connection.SchemaEditorClass(connection, collect_sql=True)  # not entered: it only spells the SQL
    legacy, actors = (str(index.create_sql(Document, editor)) for index in (old.options["indexes"][0], index))
    if connection.vendor == "postgresql":
        assert legacy.endswith('USING gin ("history" jsonb_path_ops)')
        assert actors.endswith("""USING gin (jsonb_path_query_array("history", '$[*].by') jsonb_path_ops)""")
        # As django.contrib.postgres's AddIndexConcurrently asks it, for a big table.
        assert str(index.create_sql(Document, editor, concurrently=True)).startswith("CREATE INDEX CONCURRENTLY ")
    else:
        assert legacy.startswith("--")
        assert actors.startswith("--")


def test_a_history_index_key_is_the_name_of_an_entrys_key():
    with pytest.raises(ValueError, match="the key is the name of an entry's key"):
        HistoryIndex(key="$[*].by")


def test_on_postgresql_the_index_finds_the_rows_and_on_sqlite_the_scan_is_sql(user):
    DocumentFactory.create()
    sql = str(Document.objects.changed_by(user, fields=["title"]).query)
    (index,) = [index for index in Document._meta.indexes if isinstance(index, HistoryIndex)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
                [Document._meta.db_table, index.name],
            )
            assert (
                "USING gin (jsonb_path_query_array(history, '$[*].\"by\"'::jsonpath) jsonb_path_ops)"
                in cursor.fetchone()[0]
            )
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask for the plan a big one gets
            plan = Document.objects.changed_by(user, fields=["title"]).explain()
            assert f"Bitmap Index Scan on {index.name}" in plan
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = %s", [index.name])
            assert cursor.fetchone() is None  # nothing created on SQLite
            assert "json_each" in sql
