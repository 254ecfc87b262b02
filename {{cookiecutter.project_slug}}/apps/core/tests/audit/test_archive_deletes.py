"""A row deleted for real leaves its whole history in the archive, whatever the delete path, in the deleting
transaction: one record per row, with its last values, its text, and a final "delete" entry naming who, when and
(for a cascade) which row's deletion took it."""

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.audit.entries import stored_form, tracked_fields
from apps.core.current_user import acting_as
from apps.core.models import ArchivedHistory

from ..archiveapp.models import (
    Attachment,
    Author,
    Book,
    Chapter,
    Country,
    Document,
    Folder,
    Invoice,
    Note,
    Place,
    Restaurant,
    Review,
    Ticket,
)
from ..factories import UserFactory
from ..testapp.models import Document as WideDocument
from ..testapp.models import Switch

pytestmark = pytest.mark.django_db


def record_of(obj_or_model, pk=None):
    model = obj_or_model if pk is not None else type(obj_or_model)
    pk = pk if pk is not None else obj_or_model.pk
    return ArchivedHistory.objects.get(model_label=model._meta.label_lower, object_pk=str(pk), deleted=True)


def test_instance_delete_archives_values_text_and_history_with_a_delete_entry(user):
    note = Note.objects.create(title="first", body="hello")
    note.title = "second"
    note.save()
    pk = note.pk

    with acting_as(user):
        note.delete()

    record = record_of(Note, pk)
    assert record.object_repr == "note second"
    assert record.values["title"] == "second"
    assert record.values["body"] == "hello"
    assert [entry["action"] for entry in record.entries] == ["create", "update", "delete"]
    assert record.entry_count == 3
    delete = record.entries[-1]
    assert delete["by"] == user.pk
    assert "cause" not in delete
    assert record.last_at is not None
    assert record.first_at <= record.last_at


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Ticket, lambda: Ticket.objects.create(subject="uuid")),
        (Country, lambda: Country.objects.create(code="fr", name="France")),
    ],
    ids=["uuid", "string"],
)
def test_keys_of_every_kind_are_archived_as_their_stored_form(model, make):
    row = make()
    pk = row.pk

    row.delete()

    record = ArchivedHistory.objects.get(model_label=model._meta.label_lower)
    assert record.object_pk == str(pk)
    assert list(model.history_of(pk))[-1]["action"] == "delete"


def _statements(queries):
    return [q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT"))]


def test_queryset_delete_archives_every_row_with_one_insert():
    Note.objects.bulk_create([Note(title=f"n{i}") for i in range(50)])

    with CaptureQueriesContext(connection) as queries:
        deleted, _ = Note.objects.all().delete()

    assert deleted == 50
    assert ArchivedHistory.objects.filter(model_label="archiveapp.note", deleted=True).count() == 50
    inserts = [q["sql"] for q in queries if "archivedhistory" in q["sql"].lower() and q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert len(queries) <= 6  # the rows read, the archive written, the delete (and the transaction)


def test_a_fast_delete_archives_its_rows_with_the_deletes_own_subquery_and_never_reads_them():
    Invoice.objects.bulk_create([Invoice(number=i, amount=Decimal(f"{i}.50")) for i in range(50)])
    gone = {str(pk): number for pk, number in Invoice.objects.exclude(number=7).values_list("pk", "number")}

    with CaptureQueriesContext(connection) as queries:
        deleted, _ = Invoice.objects.exclude(number=7).delete()

    assert deleted == 49
    # Nothing cascades from an invoice, so Django deletes them with one raw DELETE; the INSERT selects the rows
    # with its subquery (its parameters included): no SELECT of the invoices comes first.
    statements = _statements(queries)
    assert [sql.split()[0] for sql in statements] == ["INSERT", "DELETE"], statements
    records = ArchivedHistory.objects.filter(model_label="archiveapp.invoice", deleted=True)
    assert sorted(records.values_list("object_pk", flat=True)) == sorted(gone)
    for record in records:
        number = gone[record.object_pk]
        assert record.values is not None
        assert (record.values["number"], record.values["amount"]) == (number, f"{number}.50")
        assert record.object_repr == f"Invoice object ({record.object_pk})"
        assert [entry["action"] for entry in record.entries] == ["create", "delete"]
        assert "cause" not in record.entries[-1]
    assert Invoice.objects.get().number == 7


def test_a_fast_delete_of_nothing_sends_no_query():
    Invoice.objects.create(number=1, amount=Decimal("1.00"))

    with CaptureQueriesContext(connection) as queries:
        deleted, _ = Invoice.objects.filter(pk__in=[]).delete()

    assert deleted == 0
    assert _statements(queries) == []
    assert not ArchivedHistory.objects.exists()


def test_a_cascade_archives_the_children_with_the_row_that_caused_it():
    author = Author.objects.create(name="a")
    book = Book.objects.create(author=author, title="b")
    chapters = [Chapter.objects.create(book=book, number=n) for n in range(3)]
    review = Review.objects.create(book=book, text="r")
    author_pk, book_pk, chapter_pks = author.pk, book.pk, [chapter.pk for chapter in chapters]

    author.delete()

    cause = {"model": "archiveapp.author", "pk": author_pk}
    assert "cause" not in record_of(Author, author_pk).entries[-1]
    assert record_of(Book, book_pk).entries[-1]["cause"] == cause
    for chapter_pk in chapter_pks:
        assert record_of(Chapter, chapter_pk).entries[-1]["cause"] == cause
    # SET_NULL: the review stays, with its own entry, and nothing of it is archived.
    review.refresh_from_db()
    assert review.book_id is None
    assert review.history[-1]["changes"] == {"book": {"old": book_pk, "new": None}}
    assert not ArchivedHistory.objects.filter(model_label="archiveapp.review").exists()


def test_a_cascade_from_a_plain_model_and_from_a_user_names_it():
    folder = Folder.objects.create(name="f")
    in_folder = Note.objects.create(title="in folder", folder=folder)
    owner = UserFactory.create()
    owned = Note.objects.create(title="owned", owner=owner)
    owner_pk, folder_pk = owner.pk, folder.pk

    folder.delete()
    owner.delete()

    assert record_of(Note, in_folder.pk).entries[-1]["cause"] == {"model": "archiveapp.folder", "pk": folder_pk}
    user_label = type(owner)._meta.label_lower
    assert record_of(Note, owned.pk).entries[-1]["cause"] == {"model": user_label, "pk": owner_pk}


def test_a_multi_table_child_keeps_one_record_under_its_own_model():
    restaurant = Restaurant.objects.create(name="r", serves_pizza=True)
    pk = restaurant.pk

    restaurant.delete()

    records = ArchivedHistory.objects.all()
    assert [(r.model_label, r.object_pk) for r in records] == [("archiveapp.restaurant", str(pk))]
    assert records[0].values == {"name": "r", "serves_pizza": True}


def test_a_child_deleted_keeping_its_parent_is_archived_and_the_parent_row_stays():
    restaurant = Restaurant.objects.create(name="r", serves_pizza=True)
    pk = restaurant.pk

    restaurant.delete(keep_parents=True)

    record = record_of(Restaurant, pk)
    assert record.values == {"name": "r", "serves_pizza": True}
    assert record.entries[-1]["action"] == "delete"
    assert Place.objects.filter(pk=pk).exists()
    assert not ArchivedHistory.objects.filter(model_label="archiveapp.place").exists()


def test_deleting_a_multi_table_parent_archives_the_child_it_takes_with_it():
    restaurant = Restaurant.objects.create(name="r")
    pk = restaurant.pk

    Place.objects.get(pk=pk).delete()

    assert [r.model_label for r in ArchivedHistory.objects.all()] == ["archiveapp.restaurant"]


def test_hard_delete_archives_and_soft_delete_does_not():
    kept = Document.objects.create(title="soft")
    gone = Document.objects.create(title="hard")
    other = Document.objects.create(title="hard too")
    expected = {str(gone.pk), str(other.pk)}

    kept.delete()
    gone.hard_delete()
    Document.all_objects.filter(pk=other.pk).hard_delete()

    assert {record.object_pk for record in ArchivedHistory.objects.all()} == expected
    assert Document.all_objects.filter(pk=kept.pk).exists()


def test_a_hard_deleted_row_that_was_soft_deleted_keeps_both_entries():
    document = Document.objects.create(title="d")
    pk = document.pk
    document.delete()

    Document.all_objects.get(pk=pk).hard_delete()

    assert [entry["action"] for entry in record_of(Document, pk).entries] == ["create", "delete", "delete"]


@pytest.mark.parametrize(
    "delete",
    [
        lambda note: note.delete(),
        lambda note: Note.objects.filter(pk=note.pk).delete(),
        lambda note: note.folder.delete(),
    ],
    ids=["instance", "queryset", "cascade"],
)
def test_a_delete_that_rolls_back_archives_nothing(delete):
    note = Note.objects.create(title="n", folder=Folder.objects.create(name="f"))

    archived_inside = []

    def delete_then_fail():
        with transaction.atomic():
            delete(note)
            archived_inside.append(ArchivedHistory.objects.count())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        delete_then_fail()

    assert archived_inside == [1]

    assert not ArchivedHistory.objects.exists()
    assert Note.objects.filter(title="n").exists()


def stored_values(obj):
    model: Any = type(obj)
    return {field.name: stored_form(field, getattr(obj, field.attname)) for field in tracked_fields(model)}


@pytest.mark.parametrize(
    "make",
    [
        lambda: Invoice.objects.create(
            number=7,
            amount=Decimal("12.5"),
            due=datetime.date(2026, 3, 1),
            sent_at=datetime.datetime(2026, 2, 1, 8, 30, 0, 120, tzinfo=datetime.UTC),
            paid=True,
            reference=uuid.uuid4(),
            data={"lines": [1, 2.5, None, True], "note": "é"},
            author=Author.objects.create(name="a"),
        ),
        lambda: Invoice.objects.create(number=0, amount=Decimal("0")),
        lambda: WideDocument.objects.create(title="t", price=Decimal("1.5"), attachment="docs/a.pdf", data={"a": 1}),
        lambda: Switch.objects.create(on=True, count=3, ratio=0.25),
    ],
    ids=["spelled by the database", "nulls", "file field: in Python", "float field: in Python"],
)
def test_the_last_values_are_the_stored_forms_the_history_records(make):
    obj = make()
    obj = type(obj).objects.get(pk=obj.pk)
    expected = stored_values(obj)

    type(obj).objects.filter(pk=obj.pk).delete()

    record = record_of(type(obj), obj.pk)
    assert record.values == expected
    assert record.values == {name: change["new"] for name, change in record.entries[0]["changes"].items()}


def test_rows_read_in_python_keep_their_cause_and_values():
    note = Note.objects.create(title="with files")
    first = Attachment.objects.create(note=note, upload="attachments/a.pdf")
    second = Attachment.objects.create(note=note)
    note_pk = note.pk

    note.delete()

    for attachment in (first, second):
        record = record_of(Attachment, attachment.pk)
        assert record.values == stored_values(attachment)
        assert record.object_repr == f"Attachment object ({attachment.pk})"
        assert record.entries[-1]["cause"] == {"model": "archiveapp.note", "pk": note_pk}
