"""Table 10: the audit archive (apps/core/audit/archive.py and its neighbours).

- one save of a row whose history holds 10 / 1,000 / 10,000 / 100,000 entries, with `history_row_limit = 1000`:
  the oldest entries live in the archive, so the save should cost about the same however long the history (goal:
  the 100,000-entry save within 1.5x of the 10-entry one);
- `QuerySet.delete()` of 10,000 audited rows (each archived, in one INSERT per model) against the same delete of a
  plain model's rows (goal: at most 3x on PostgreSQL);
- `history_of()` of a row deleted for real whose history holds 100,000 entries: its first page, and its last entry.
"""

import gc
import json
import time
from decimal import Decimal

from django.db import connections, models, transaction

from . import router
from .history_depth import history_of as made_entries
from .util import fmt_ratio, fmt_seconds, median, print_table, reset_tables

LIMIT = 1000


def _archive_model():
    from apps.core.models import ArchivedHistory

    return ArchivedHistory


def _row_with_history(alias, length):
    """A Trackable row whose history holds `length` entries, spread over the archive and the row as the in-row limit
    leaves them (outside the timing)."""
    from apps.core.audit.retention import trim
    from benchapp.models import Trackable

    manager = Trackable.objects.db_manager(alias)
    pk = manager.create(name="deep", quantity=0, price=Decimal("1.00")).pk
    rows = manager.filter(pk=pk)
    models.QuerySet.update(rows, history=made_entries(length))  # bypasses the trail, on purpose
    # What is past the limit moves into the archive, as the next save's (or QuerySet.update()'s) check would move it.
    trim(Trackable, alias, rows, threshold=LIMIT - 1)
    return pk


def _save_once(manager, pk):
    obj = manager.get(pk=pk)
    obj.quantity += 1
    obj.save()


def measure_saves(alias, lengths, repeats):
    """{length: (median seconds of get + save, mean seconds, entries in the row, whole history)}. One row per length,
    all in the table at once, saved in turn (in a rotating order), so that the machine's load weighs on every length
    alike."""
    from benchapp.models import Trackable

    Trackable.history_row_limit = LIMIT
    try:
        with router.use(alias):
            reset_tables(alias, [Trackable, _archive_model()])
            pks = {length: _row_with_history(alias, length) for length in lengths}
            gc.collect()  # the set-up's garbage (a 100,000-entry list) is not the saves' to collect
            manager = Trackable.objects.db_manager(alias)
            samples = {length: [] for length in lengths}
            for turn in range(repeats):
                for length in lengths[turn % len(lengths) :] + lengths[: turn % len(lengths)]:
                    start = time.perf_counter()
                    _save_once(manager, pks[length])
                    samples[length].append(time.perf_counter() - start)
            return {
                length: (
                    median(samples[length]),
                    sum(samples[length]) / repeats,
                    len(manager.get(pk=pk).history),
                    len(Trackable.history_of(pk, using=alias)),
                )
                for length, pk in pks.items()
            }
    finally:
        del Trackable.history_row_limit
        reset_tables(alias, [Trackable, _archive_model()])


# The floor of any archive written in the deleting transaction: the plain delete, after copying each row's key (and
# nothing else) into a table with no index at all.
_FLOOR_TABLE = "bench_archive_floor"


def measure_delete(alias, rows, rounds):
    """{label: median seconds} of QuerySet.delete() of `rows` rows of a plain model and of TrackableModel, and of the
    floor: the plain delete preceded, in its transaction, by an INSERT ... SELECT of each row's key alone."""
    from benchapp.models import Plain, Trackable

    samples = {"plain": [], "TrackableModel": [], "floor": []}
    archived = None
    connection = connections[alias]
    plain_table = connection.ops.quote_name(Plain._meta.db_table)
    with router.use(alias):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {_FLOOR_TABLE} (object_pk varchar(255))")
        try:
            for _ in range(rounds):
                for label, model in (("plain", Plain), ("TrackableModel", Trackable), ("floor", Plain)):
                    reset_tables(alias, [model, _archive_model()])
                    model.objects.db_manager(alias).bulk_create(
                        [model(name=f"row {i}", quantity=i, price=Decimal("1.00")) for i in range(rows)],
                        batch_size=2000,
                    )
                    start = time.perf_counter()
                    with transaction.atomic(using=alias):
                        if label == "floor":
                            with connection.cursor() as cursor:
                                cursor.execute(
                                    f"INSERT INTO {_FLOOR_TABLE} (object_pk) SELECT CAST(id AS varchar(255)) "
                                    f"FROM {plain_table}"
                                )
                        model.objects.db_manager(alias).all().delete()
                    samples[label].append(time.perf_counter() - start)
                    if model is Trackable:
                        archived = _archive_model().objects.using(alias).filter(deleted=True).count()
                    with connection.cursor() as cursor:
                        cursor.execute(f"DELETE FROM {_FLOOR_TABLE}")
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_FLOOR_TABLE}")
        reset_tables(alias, [Plain, Trackable, _archive_model()])
    return {label: median(values) for label, values in samples.items()}, archived


_APPEND = {
    "postgresql": "UPDATE {table} SET {history} = {history} || %s::jsonb, quantity = quantity + 1 WHERE id = %s",
    "sqlite": "UPDATE {table} SET {history} = json_insert({history}, '$[#]', json(%s)), quantity = quantity + 1 "
    "WHERE id = %s",
}


def measure_append(alias, lengths, repeats):
    """{length: median seconds} of the database's own append of one entry to a row holding `length` entries: one
    hand-written UPDATE per save, in its own transaction, no ORM: how much of a save's growth with the row's length
    is the database's own."""
    from benchapp.models import Trackable

    connection = connections[alias]
    sql = _APPEND[connection.vendor].format(
        table=connection.ops.quote_name(Trackable._meta.db_table), history=connection.ops.quote_name("history")
    )
    entry = json.dumps(made_entries(1)[0])
    with router.use(alias):
        reset_tables(alias, [Trackable])
        manager = Trackable.objects.db_manager(alias)
        pks = {length: manager.create(name="append", quantity=0, price=Decimal("1.00")).pk for length in lengths}
        for length, pk in pks.items():
            models.QuerySet.update(manager.filter(pk=pk), history=made_entries(length))  # bypasses the trail
        samples = {length: [] for length in lengths}
        for _ in range(repeats):
            for length, pk in pks.items():  # taking turns, so that load on the machine falls on each alike
                start = time.perf_counter()
                with transaction.atomic(using=alias), connection.cursor() as cursor:
                    cursor.execute(sql, [entry if connection.vendor == "sqlite" else f"[{entry}]", pk])
                samples[length].append(time.perf_counter() - start)
        reset_tables(alias, [Trackable])
    return {length: median(values) for length, values in samples.items()}


def _deep_row(alias, length, chunked):
    """A Trackable row with `length` - 1 entries: all in the row, or (`chunked`) as a row under history_row_limit =
    LIMIT leaves them after many saves: chunks of LIMIT / 2 entries in the archive and the rest in the row."""
    from benchapp.models import Trackable

    manager = Trackable.objects.db_manager(alias)
    pk = manager.create(name="deleted", quantity=0, price=Decimal("1.00")).pk
    entries = made_entries(length - 1)
    if chunked:
        size = LIMIT - LIMIT // 2
        archived = len(entries) - len(entries) % size - size
        _archive_model().objects.using(alias).bulk_create(
            _archive_model()(
                model_label=Trackable._meta.label_lower,
                object_pk=str(pk),
                entries=entries[start : start + size],
                entry_count=size,
            )
            for start in range(0, archived, size)
        )
        entries = entries[archived:]
    models.QuerySet.update(manager.filter(pk=pk), history=entries)  # bypasses the trail, on purpose
    return pk


def measure_history_of(alias, length, repeats, chunked):
    """(seconds to read the first page, seconds to read the last entry, entries, errors) of history_of() of a row
    deleted for real whose history held `length` entries, each read by a new history_of() (nothing cached)."""
    from benchapp.models import Trackable

    with router.use(alias):
        reset_tables(alias, [Trackable, _archive_model()])
        pk = _deep_row(alias, length, chunked)
        Trackable.objects.db_manager(alias).filter(pk=pk).delete()
        first, last = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            page = Trackable.history_of(pk, using=alias)[:100]
            first.append(time.perf_counter() - start)
            start = time.perf_counter()
            final = Trackable.history_of(pk, using=alias)[-1]
            last.append(time.perf_counter() - start)
        whole = len(Trackable.history_of(pk, using=alias))
        reset_tables(alias, [Trackable, _archive_model()])
    errors = []
    if len(page) != 100 or final.get("action") != "delete" or whole != length:
        errors.append(f"history_of() read a first page of {len(page)}, a last entry {final!r}, {whole:,} in all")
    return median(first), median(last), whole, errors


def _signed(seconds):
    return ("+" if seconds >= 0 else "-") + fmt_seconds(abs(seconds))


def report(alias, title, lengths, repeats, delete_rows, delete_rounds, deep):
    from apps.core.audit.retention import saves_between_checks

    every = saves_between_checks(LIMIT)
    saves = measure_saves(alias, lengths, repeats)
    base = saves[lengths[0]][0]
    rows = [
        [
            f"{length:,}",
            f"{whole:,}",
            f"{in_row:,}",
            fmt_seconds(typical),
            fmt_seconds(mean),
            fmt_ratio(typical / base),
        ]
        for length, (typical, mean, in_row, whole) in saves.items()
    ]
    in_row = saves[lengths[-1]][2]
    appends = measure_append(alias, (lengths[0], in_row), repeats)
    append_ratio = appends[in_row] / appends[lengths[0]]
    deletes, archived = measure_delete(alias, delete_rows, delete_rounds)
    delete_ratio = deletes["TrackableModel"] / deletes["plain"]
    floor_ratio = deletes["floor"] / deletes["plain"]
    reads = {chunked: measure_history_of(alias, deep, repeats, chunked) for chunked in (False, True)}
    errors = [error for read in reads.values() for error in read[3]]
    saves_ratio = saves[lengths[-1]][0] / base
    notes = [
        f"Saves: get(pk=) + change one field + save(), history_row_limit = {LIMIT:,} (a row past it keeps its",
        f"newest {LIMIT - LIMIT // 2:,}, the rest move to the archive); median of {repeats} saves after the row's",
        "set-up, and their mean; one row per length, saved in turn. A save reads its row's length (one query)",
        f"on one save in {every}: the first this process makes of the row, then every {every}th.",
        f"Save with {lengths[-1]:,} entries / with {lengths[0]:,}: {fmt_ratio(saves_ratio)} (goal: at most 1.50x).",
        f"The database's own append (one hand-written UPDATE, no ORM): {fmt_seconds(appends[lengths[0]])} to a row "
        f"of {lengths[0]:,} entries, {fmt_seconds(appends[in_row])} to one of {in_row:,} ({fmt_ratio(append_ratio)}):",
        f"{_signed(appends[in_row] - appends[lengths[0]])} of the save's "
        f"{_signed(saves[lengths[-1]][0] - base)} between the two comes from the database's append alone.",
        f"QuerySet.delete() of {delete_rows:,} rows, median of {delete_rounds}: "
        f"plain {fmt_seconds(deletes['plain'])},",
        f"TrackableModel {fmt_seconds(deletes['TrackableModel'])} with {archived:,} rows archived: "
        f"{fmt_ratio(delete_ratio)} (goal on PostgreSQL: at most 3x). Floor: the plain delete after copying each",
        f"row's key alone into a table without indexes, {fmt_seconds(deletes['floor'])}: {fmt_ratio(floor_ratio)}.",
        *(
            f"history_of() of a row deleted with {whole:,} entries {where}: first page of 100 {first * 1e3:.1f} ms, "
            f"last entry {last * 1e3:.1f} ms"
            for chunked, (first, last, whole, _errors) in reads.items()
            for where in [f"(in chunks of {LIMIT // 2:,}, as under the limit)" if chunked else "(all in one record)"]
        ),
        f"(each read by a new history_of(), median of {repeats}).",
        *(f"ERROR: {error}" for error in errors),
    ]
    print_table(
        title,
        ["entries", "whole history", "in the row", "save (median)", "save (mean)", "ratio to first"],
        rows,
        notes=notes,
    )
    return {
        "save_ratio": saves_ratio,
        "append_ratio": append_ratio,
        "delete_ratio": delete_ratio,
        "delete_floor_ratio": floor_ratio,
        "history_of_first_page_ms": reads[True][0] * 1e3,
    }
