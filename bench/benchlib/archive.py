"""Table 10: the audit archive (apps/core/audit/archive.py and its neighbours).

- one save of a row whose history holds 10 / 1,000 / 10,000 / 100,000 entries, with `history_row_limit = 1000`:
  the oldest entries live in the archive, so the save should cost about the same however long the history (goal:
  the 100,000-entry save within 1.5x of the 10-entry one);
- `QuerySet.delete()` of 10,000 audited rows (each archived, in one INSERT per model) against the same delete of a
  plain model's rows (goal: at most 3x on PostgreSQL);
- `history_of()` of a row deleted for real whose history holds 100,000 entries: its first page, and its last entry.
"""

import gc
import time
from decimal import Decimal

from django.db import models, transaction

from . import router
from .history_depth import history_of as made_entries
from .util import fmt_ratio, fmt_seconds, median, print_table, reset_tables

LIMIT = 1000


def _archive_model():
    from apps.core.models import ArchivedHistory

    return ArchivedHistory


def _row_with_history(alias, length):
    """A Trackable row whose history holds `length` entries, spread over the archive and the row as the in-row limit
    leaves them (the row's own part trimmed by one save, outside the timing)."""
    from benchapp.models import Trackable

    manager = Trackable.objects.db_manager(alias)
    pk = manager.create(name="deep", quantity=0, price=Decimal("1.00")).pk
    models.QuerySet.update(manager.filter(pk=pk), history=made_entries(length))  # bypasses the trail, on purpose
    obj = manager.get(pk=pk)
    obj.quantity += 1
    obj.save()  # moves what is past the limit into the archive
    return pk


def _save_once(manager, pk):
    obj = manager.get(pk=pk)
    obj.quantity += 1
    obj.save()


def measure_saves(alias, lengths, repeats):
    """{length: (median seconds of get + save, mean seconds over enough saves to include a move to the archive,
    entries in the row, whole history)}."""
    from benchapp.models import Trackable

    results = {}
    Trackable.history_row_limit = LIMIT
    try:
        with router.use(alias):
            for length in lengths:
                reset_tables(alias, [Trackable, _archive_model()])
                pk = _row_with_history(alias, length)
                gc.collect()  # the set-up's garbage (a 100,000-entry list) is not the saves' to collect
                manager = Trackable.objects.db_manager(alias)
                samples = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    _save_once(manager, pk)
                    samples.append(time.perf_counter() - start)
                in_row = len(manager.get(pk=pk).history)
                whole = len(Trackable.history_of(pk, using=alias))
                results[length] = (median(samples), sum(samples) / len(samples), in_row, whole)
    finally:
        del Trackable.history_row_limit
        reset_tables(alias, [Trackable, _archive_model()])
    return results


def measure_delete(alias, rows, rounds):
    """{label: median seconds} of QuerySet.delete() of `rows` rows of a plain model and of TrackableModel."""
    from benchapp.models import Plain, Trackable

    samples = {"plain": [], "TrackableModel": []}
    archived = None
    with router.use(alias):
        for _ in range(rounds):
            for label, model in (("plain", Plain), ("TrackableModel", Trackable)):
                reset_tables(alias, [model, _archive_model()])
                model.objects.db_manager(alias).bulk_create(
                    [model(name=f"row {i}", quantity=i, price=Decimal("1.00")) for i in range(rows)], batch_size=2000
                )
                start = time.perf_counter()
                with transaction.atomic(using=alias):
                    model.objects.db_manager(alias).all().delete()
                samples[label].append(time.perf_counter() - start)
                if model is Trackable:
                    archived = _archive_model().objects.using(alias).filter(deleted=True).count()
        reset_tables(alias, [Plain, Trackable, _archive_model()])
    return {label: median(values) for label, values in samples.items()}, archived


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


def report(alias, title, lengths, repeats, delete_rows, delete_rounds, deep):
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
    deletes, archived = measure_delete(alias, delete_rows, delete_rounds)
    delete_ratio = deletes["TrackableModel"] / deletes["plain"]
    reads = {chunked: measure_history_of(alias, deep, repeats, chunked) for chunked in (False, True)}
    errors = [error for read in reads.values() for error in read[3]]
    saves_ratio = saves[lengths[-1]][0] / base
    notes = [
        f"Saves: get(pk=) + change one field + save(), history_row_limit = {LIMIT:,} (a row past it keeps its",
        f"newest {LIMIT - LIMIT // 2:,}, the rest move to the archive); median of {repeats} saves after the row's",
        "set-up, and their mean.",
        f"Save with {lengths[-1]:,} entries / with {lengths[0]:,}: {fmt_ratio(saves_ratio)} (goal: at most 1.50x).",
        f"QuerySet.delete() of {delete_rows:,} rows, median of {delete_rounds}: "
        f"plain {fmt_seconds(deletes['plain'])},",
        f"TrackableModel {fmt_seconds(deletes['TrackableModel'])} with {archived:,} rows archived: "
        f"{fmt_ratio(delete_ratio)} (goal on PostgreSQL: at most 3x).",
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
    return {"save_ratio": saves_ratio, "delete_ratio": delete_ratio, "history_of_first_page_ms": reads[True][0] * 1e3}
