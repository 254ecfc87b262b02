"""Erasure: obj.redact_history() and manage.py redact_history replace a field's recorded values everywhere the
row's history lives (the row, its archived chunks, a deleted row's record and last values) and say so in a
"redact" entry that holds no values."""

import io

import pytest
from django.core.management import CommandError, call_command

from apps.core.audit.erasure import REDACTED
from apps.core.current_user import acting_as
from apps.core.models import ArchivedHistory

from ..archiveapp.models import Gauge, Note, Ticket

pytestmark = pytest.mark.django_db


def values_of(history, field):
    return [entry["changes"][field] for entry in history if field in entry.get("changes", {})]


def command(*args):
    out = io.StringIO()
    call_command("redact_history", *args, stdout=out)
    return out.getvalue()


def test_redact_history_replaces_the_values_in_the_row_and_adds_a_redact_entry(user):
    note = Note.objects.create(title="t", secret="s1")
    note.secret = "s2"
    note.save()

    with acting_as(user):
        note.redact_history(fields=["secret"], reason="GDPR request 42")

    history = note.history
    assert values_of(history, "secret") == [
        {"old": REDACTED, "new": REDACTED},
        {"old": REDACTED, "new": REDACTED},
    ]
    assert values_of(history, "title") == [{"old": None, "new": "t"}]
    redact = history[-1]
    assert redact["action"] == "redact"
    assert redact["fields"] == ["secret"]
    assert redact["reason"] == "GDPR request 42"
    assert redact["by"] == user.pk
    assert "s1" not in str(history)
    assert "s2" not in str(history)
    assert Note.objects.get(pk=note.pk).secret == "s2"  # the current value is not the history's to erase


def test_redaction_reaches_the_archived_chunks_of_a_long_history():
    gauge = Gauge.objects.create(reading=7)
    for reading in range(8, 40):
        gauge.reading = reading
        gauge.save()
    assert ArchivedHistory.objects.exists()

    gauge.redact_history(fields=["reading"], reason="r")

    history = list(Gauge.history_of(gauge.pk))
    assert values_of(history, "reading") == [{"old": REDACTED, "new": REDACTED}] * 33
    assert [entry["action"] for entry in history].count("redact") == 1


def test_the_command_redacts_a_deleted_row_in_its_record_and_last_values():
    note = Note.objects.create(title="gone", secret="hunter2")
    pk = note.pk
    note.delete()

    output = command("archiveapp.Note", str(pk), "--fields", "secret", "--reason", "erasure")

    record = ArchivedHistory.objects.get(object_pk=str(pk))
    assert record.values == {**(record.values or {}), "secret": REDACTED, "title": "gone"}
    assert "hunter2" not in str(record.entries)
    assert record.entries[-1]["action"] == "redact"
    assert record.entry_count == len(record.entries)
    assert "Redacted secret" in output


def test_a_whole_model_is_redacted_in_one_command():
    kept = Note.objects.create(title="a", secret="x")
    gone = Note.objects.create(title="b", secret="y")
    untouched = Ticket.objects.create(subject="s")
    gone_pk = gone.pk
    gone.delete()

    command("archiveapp.Note", "--all", "--fields", "secret", "--reason", "secrets recorded before history_exclude")

    assert values_of(Note.objects.get(pk=kept.pk).history, "secret") == [{"old": REDACTED, "new": REDACTED}]
    assert (ArchivedHistory.objects.get(object_pk=str(gone_pk)).values or {})["secret"] == REDACTED
    assert len(untouched.history) == 1


def test_the_key_may_be_a_uuid():
    ticket = Ticket.objects.create(subject="private")

    command("archiveapp.Ticket", str(ticket.pk), "--fields", "subject", "--reason", "r")

    assert values_of(Ticket.objects.get(pk=ticket.pk).history, "subject") == [{"old": REDACTED, "new": REDACTED}]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["history"], "The history itself cannot be redacted"),
        (["nope"], "archiveapp.Note has no field 'nope'"),
        ([], "Name at least one field"),
    ],
)
def test_bad_fields_are_one_clear_error_and_change_nothing(fields, message):
    note = Note.objects.create(title="t", secret="s")
    with pytest.raises(ValueError, match=message):
        note.redact_history(fields=fields, reason="r")
    assert Note.objects.get(pk=note.pk).history == note.history
    assert len(note.history) == 1


def test_a_reason_is_required():
    note = Note.objects.create(title="t")
    with pytest.raises(ValueError, match="reason"):
        note.redact_history(fields=["title"], reason=" ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.Nothing", "1", "--fields", "x", "--reason", "r"], "'nope.Nothing' is not an installed model"),
        (["archiveapp.Folder", "1", "--fields", "name", "--reason", "r"], "keeps no history"),
        (["archiveapp.Note", "999", "--fields", "secret", "--reason", "r"], "no row and no archived history"),
        (["archiveapp.Note", "--fields", "secret", "--reason", "r"], "or every row with --all"),
        (["archiveapp.Ticket", "not-a-uuid", "--fields", "subject", "--reason", "r"], "is not a primary key"),
        (["archiveapp.Note", "1", "--fields", "history", "--reason", "r"], "cannot be redacted"),
    ],
)
def test_the_command_refuses_bad_input_with_one_sentence(args, message):
    Note.objects.create(title="t", secret="s")
    with pytest.raises(CommandError, match=message):
        command(*args)


def test_a_redaction_that_fails_halfway_changes_nothing(monkeypatch):
    gauge = Gauge.objects.create(reading=1)
    for reading in range(2, 30):
        gauge.reading = reading
        gauge.save()
    before = list(Gauge.history_of(gauge.pk))

    def failing(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ArchivedHistory, "save", failing)  # the row is redacted first, then its archived chunks
    with pytest.raises(RuntimeError):
        gauge.redact_history(fields=["reading"], reason="r")

    assert list(Gauge.history_of(gauge.pk)) == before
