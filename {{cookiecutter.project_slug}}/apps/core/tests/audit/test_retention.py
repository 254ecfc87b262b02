"""The in-row limit (history_row_limit, AUDIT_HISTORY_ROW_LIMIT) keeps a row's history short as it grows, and
prune_history removes what is older than a date, in batches, from the archive and the rows."""

import datetime
import io

import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.audit import retention
from apps.core.audit.checks import _check_row_limit
from apps.core.models import ArchivedHistory

from ..archiveapp.models import Document, Gauge, Note, Place, Restaurant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_process():
    """Each test starts as a new process would: no row's saves counted since its length was last read (keys are
    reused across tests, as their transactions roll back)."""
    retention._saves_unchecked.clear()
    yield
    retention._saves_unchecked.clear()


def readings(history):
    return [entry["changes"]["reading"]["new"] for entry in history]


def saved_times(gauge, times):
    for _ in range(times):
        gauge.reading += 1
        gauge.save()


def test_saves_past_the_limit_move_the_oldest_entries_to_the_archive():
    gauge = Gauge.objects.create()

    saved_times(gauge, 9)  # 10 entries: the limit
    assert len(Gauge.objects.get(pk=gauge.pk).history) == 10
    assert not ArchivedHistory.objects.exists()

    saved_times(gauge, 1)  # 11: the oldest 6 move out, the row keeps its newest 5
    in_row = Gauge.objects.get(pk=gauge.pk).history
    assert readings(in_row) == list(range(6, 11))
    chunk = ArchivedHistory.objects.get()
    assert not chunk.deleted
    assert chunk.values is None
    assert readings(chunk.entries) == list(range(6))
    assert chunk.entry_count == 6
    assert chunk.first_at is not None
    assert chunk.last_at is not None
    assert chunk.first_at.isoformat(timespec="microseconds") == chunk.entries[0]["at"]
    assert chunk.last_at.isoformat(timespec="microseconds") == chunk.entries[-1]["at"]


def test_a_long_history_never_holds_much_more_than_its_limit_and_reads_whole():
    gauge = Gauge.objects.create()

    for _ in range(100):
        saved_times(gauge, 1)
        assert len(Gauge.objects.get(pk=gauge.pk).history) <= 10

    assert readings(Gauge.history_of(gauge.pk)) == list(range(101))


def length_reads(queries):
    return [query["sql"] for query in queries if query["sql"].lstrip().upper().startswith("SELECT")]


def test_a_row_saved_over_and_over_reads_its_length_once_in_a_hundredth_of_its_limit(monkeypatch):
    monkeypatch.setattr(Gauge, "history_row_limit", 1000)
    assert retention.saves_between_checks(1000) == 10
    with CaptureQueriesContext(connection) as queries:
        gauge = Gauge.objects.create()  # the first save of the row this process makes: read
        saved_times(gauge, 20)  # the 10th and the 20th: read

    assert len(length_reads(queries)) == 3
    assert len(queries) == 21 + 3


def test_a_row_checked_less_often_passes_its_limit_by_less_than_the_saves_between_checks(monkeypatch):
    monkeypatch.setattr(Gauge, "history_row_limit", 300)
    every = retention.saves_between_checks(300)
    assert every == 3
    gauge = Gauge.objects.create()

    lengths = []
    for _ in range(700):
        saved_times(gauge, 1)
        lengths.append(len(Gauge.objects.get(pk=gauge.pk).history))

    assert max(lengths) > 300  # saves between checks pass the limit...
    assert max(lengths) < 300 + every  # ...by less than their number
    assert min(lengths[300:]) >= 150  # and a trimmed row keeps its newest half
    assert readings(Gauge.history_of(gauge.pk)) == list(range(701))


def test_a_process_reads_the_length_of_a_row_on_its_first_save_of_it(monkeypatch):
    monkeypatch.setattr(Gauge, "history_row_limit", 1000)
    gauge = Gauge.objects.create()
    saved_times(gauge, 3)  # counted: this process would not read its length for 7 more saves
    entries = Gauge.objects.get(pk=gauge.pk).history
    # Another process (or a hand-written UPDATE) made the row long.
    QuerySet.update(Gauge.objects.filter(pk=gauge.pk), history=entries + [entries[-1]] * 1000)
    retention._saves_unchecked.clear()  # this process is new

    saved_times(gauge, 1)

    assert len(Gauge.objects.get(pk=gauge.pk).history) == 500
    assert len(Gauge.history_of(gauge.pk)) == 1005


def test_a_queryset_update_trims_the_rows_it_updates():
    gauges = [Gauge.objects.create() for _ in range(3)]
    for _ in range(40):
        Gauge.objects.filter(pk__in=[g.pk for g in gauges[:2]]).update(reading=timezone.now().microsecond)

    for gauge in gauges[:2]:
        assert len(Gauge.objects.get(pk=gauge.pk).history) <= 10
        assert len(Gauge.history_of(gauge.pk)) == 41
    assert len(Gauge.objects.get(pk=gauges[2].pk).history) == 1


def test_a_save_of_a_model_without_a_limit_costs_no_query_more():
    note = Note.objects.create(title="a")
    with CaptureQueriesContext(connection) as queries:
        note.title = "b"
        note.save()
    assert len(queries) == 1


def test_the_project_setting_applies_where_the_model_sets_nothing(settings):
    settings.AUDIT_HISTORY_ROW_LIMIT = 10
    note = Note.objects.create(title="0")
    for n in range(1, 20):
        note.title = str(n)
        note.save()

    assert len(Note.objects.get(pk=note.pk).history) <= 10
    assert len(Note.history_of(note.pk)) == 20


def test_a_deleted_row_with_archived_chunks_reads_whole():
    gauge = Gauge.objects.create()
    saved_times(gauge, 30)
    pk = gauge.pk

    gauge.delete()

    history = Gauge.history_of(pk)
    assert len(history) == 32
    assert readings(history[:31]) == list(range(31))
    assert history[-1]["action"] == "delete"


@pytest.mark.parametrize(
    ("limit", "problem"),
    [(0, "core.E003"), (-5, "core.E003"), ("100", "core.E003"), (True, "core.E003"), (3, "core.W005")],
)
def test_the_system_check_explains_a_limit_that_is_wrong_or_too_small(monkeypatch, limit, problem):
    monkeypatch.setattr(Gauge, "history_row_limit", limit)
    found = _check_row_limit(Gauge)
    assert [error.id for error in found] == [problem]
    assert "Gauge.history_row_limit" in found[0].msg


def test_the_system_check_names_the_setting_when_it_is_the_setting(settings):
    settings.AUDIT_HISTORY_ROW_LIMIT = 2
    found = _check_row_limit(Note)
    assert [error.id for error in found] == ["core.W005"]
    assert "AUDIT_HISTORY_ROW_LIMIT" in found[0].msg
    assert isinstance(found[0], checks.Warning)


def test_sensible_limits_pass_the_check():
    assert _check_row_limit(Gauge) == []
    assert _check_row_limit(Note) == []


# Retention --------------------------------------------------------------------------------------------------------


def age(model, pk, days):
    """Move every entry of the row (and its archived records) `days` into the past."""

    def shifted(entries):
        return [
            {
                **entry,
                "at": retention.iso(datetime.datetime.fromisoformat(entry["at"]) - datetime.timedelta(days=days)),
            }
            for entry in entries
        ]

    rows = model._base_manager.filter(pk=pk)
    QuerySet.update(rows, history=shifted(rows.defer(None).get().history))
    for record in ArchivedHistory.objects.filter(model_label=model._meta.label_lower, object_pk=str(pk)):
        record.entries = shifted(record.entries)
        record.first_at = datetime.datetime.fromisoformat(record.entries[0]["at"])
        record.last_at = datetime.datetime.fromisoformat(record.entries[-1]["at"])
        record.save()


def prune(*args):
    out = io.StringIO()
    call_command("prune_history", *args, stdout=out)
    return out.getvalue()


def days_ago(days):
    return (timezone.now() - datetime.timedelta(days=days)).date().isoformat()


@pytest.fixture
def old_and_new():
    """An old deleted note, a note with old and new entries, and a recent one."""
    gone = Note.objects.create(title="gone")
    gone_pk = gone.pk
    age(Note, gone_pk, 400)
    gone.delete()
    record = ArchivedHistory.objects.get(object_pk=str(gone_pk))
    record.entries = [
        {**entry, "at": retention.iso(timezone.now() - datetime.timedelta(days=400))} for entry in record.entries
    ]
    record.first_at = record.last_at = timezone.now() - datetime.timedelta(days=400)
    record.save()

    mixed = Note.objects.create(title="old")
    age(Note, mixed.pk, 400)
    mixed = Note.objects.get(pk=mixed.pk)
    mixed.title = "new"
    mixed.save()

    recent = Note.objects.create(title="recent")
    return gone_pk, mixed, recent


def test_a_dry_run_counts_and_changes_nothing(old_and_new):
    _gone_pk, mixed, _recent = old_and_new
    before = (list(ArchivedHistory.objects.values_list("entries", flat=True)), Note.history_of(mixed.pk)[:])

    output = prune("--before", days_ago(365), "--dry-run")

    assert "archiveapp.note: would remove 3 entries (1 archived records whole); 1 rows would get" in output
    assert "Would remove 3 entries" in output
    after = (list(ArchivedHistory.objects.values_list("entries", flat=True)), Note.history_of(mixed.pk)[:])
    assert after == before


def test_prune_removes_old_records_and_entries_and_records_a_prune_entry(old_and_new):
    gone_pk, mixed, recent = old_and_new

    output = prune("--before", days_ago(365))

    assert 'archiveapp.note: removed 3 entries (1 archived records whole); 1 rows got a "prune" entry' in output
    assert not ArchivedHistory.objects.filter(object_pk=str(gone_pk)).exists()
    history = Note.objects.get(pk=mixed.pk).history
    assert [entry["action"] for entry in history] == ["update", "prune"]
    assert history[-1]["before"].startswith(days_ago(365))
    assert history[-1]["changes"] == {}
    assert len(Note.objects.get(pk=recent.pk).history) == 1

    assert "Removed 0 entries" in prune("--before", days_ago(365))  # nothing left to do: safe to run again


def test_prune_shortens_archived_records_that_straddle_the_date():
    gauge = Gauge.objects.create()
    saved_times(gauge, 20)  # readings 0..20, the oldest 6 already archived
    age(Gauge, gauge.pk, 400)
    saved_times(gauge, 13)  # readings 21..33, new; the archive now holds a chunk of old and new entries
    cutoff = timezone.now() - datetime.timedelta(days=365)
    assert ArchivedHistory.objects.filter(first_at__lt=cutoff, last_at__gte=cutoff).exists()

    output = prune("--before", days_ago(365), "--model", "archiveapp.Gauge")

    history = list(Gauge.history_of(gauge.pk))
    assert readings(history[:-1]) == list(range(21, 34))
    assert history[-1]["action"] == "prune"
    assert "removed 21 entries" in output
    assert all((record.first_at or cutoff) >= cutoff for record in ArchivedHistory.objects.all())
    assert all(record.first_at is not None for record in ArchivedHistory.objects.all())
    assert [record.entry_count for record in ArchivedHistory.objects.all()] == [
        len(record.entries) for record in ArchivedHistory.objects.all()
    ]


def test_prune_runs_in_batches_of_the_size_given(old_and_new):
    notes = [Note.objects.create(title=f"b{n}") for n in range(5)]
    for note in notes:
        age(Note, note.pk, 400)
    with CaptureQueriesContext(connection) as queries:
        prune("--before", days_ago(365), "--model", "archiveapp.note", "--batch-size", "2")

    updates = [q for q in queries if q["sql"].startswith("UPDATE") and "archiveapp_note" in q["sql"]]
    assert len(updates) >= 3  # 6 rows in batches of 2
    assert all(Note.objects.get(pk=note.pk).history[-1]["action"] == "prune" for note in notes)


def test_prune_only_the_models_named(old_and_new):
    document = Document.objects.create(title="d")
    age(Document, document.pk, 400)

    prune("--before", days_ago(365), "--model", "archiveapp.document")

    assert Document.objects.get(pk=document.pk).history[-1]["action"] == "prune"
    assert len(Note.history_of(old_and_new[1].pk)) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--before", "yesterday"], "'yesterday' is not a date"),
        (["--before", "2999-01-01"], "is in the future"),
        (["--before", "2020-01-01", "--model", "nope.Nothing"], "'nope.Nothing' is not an installed model"),
        (["--before", "2020-01-01", "--model", "archiveapp.Folder"], "archiveapp.Folder keeps no history"),
        (["--before", "2020-01-01", "--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_bad_input_is_one_clear_error_and_changes_nothing(old_and_new, args, message):
    before = list(ArchivedHistory.objects.values_list("entries", flat=True))
    with pytest.raises(CommandError, match=message):
        prune(*args)
    assert list(ArchivedHistory.objects.values_list("entries", flat=True)) == before


def test_a_failing_batch_leaves_the_batches_it_did_not_finish_untouched(old_and_new, monkeypatch):
    notes = [Note.objects.create(title=f"f{n}") for n in range(4)]
    for note in notes:
        age(Note, note.pk, 400)
    calls = []
    real = retention.append_entries

    def failing(model, using, by_row):
        calls.append(by_row)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(model, using, by_row)

    monkeypatch.setattr(retention, "append_entries", failing)
    with pytest.raises(RuntimeError):
        prune("--before", days_ago(365), "--model", "archiveapp.note", "--batch-size", "2")

    pruned = [
        Note.objects.get(pk=pk).history[-1]["action"] == "prune"
        for pk in sorted([old_and_new[1].pk, *(n.pk for n in notes)])
    ]
    assert pruned == [True, True, False, False, False]
    assert all(len(Note.history_of(n.pk)) == 1 for n in notes[1:])


def test_prune_shortens_a_multi_table_childs_history():
    restaurant = Restaurant.objects.create(name="old")
    age(Place, restaurant.pk, 400)
    restaurant = Restaurant.objects.get(pk=restaurant.pk)
    restaurant.name = "new"
    restaurant.save()

    prune("--before", days_ago(365), "--model", "archiveapp.Restaurant")

    assert [entry["action"] for entry in Restaurant.objects.get(pk=restaurant.pk).history] == ["update", "prune"]
