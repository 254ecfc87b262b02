"""Table 3: time of one update when the row's history already holds N entries: TrackableModel's in-database append
against the naive way (load the row, append to the list in Python, save the whole list back)."""

import datetime
import time
from decimal import Decimal

from django.db import models

from . import router
from .util import fmt_ratio, fmt_seconds, median, print_table, reset_tables


def history_of(length):
    """`length` realistic entries, shaped like TrackableModel's."""
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return [
        {
            "at": (at + datetime.timedelta(seconds=i)).isoformat(timespec="microseconds"),
            "by": 7,
            "by_name": "alice",
            "action": "update",
            "changes": {"quantity": {"old": i, "new": i + 1}},
        }
        for i in range(length)
    ]


def naive_entry(old, new):
    return {
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds"),
        "by": None,
        "by_name": None,
        "action": "update",
        "changes": {"quantity": {"old": old, "new": new}},
    }


def prepare(alias, length):
    """Two Trackable rows (one per in-DB variant) and one NaiveHistory row, each with `length` entries."""
    from benchapp.models import NaiveHistory, Trackable

    reset_tables(alias, [Trackable, NaiveHistory])
    entries = history_of(length)
    manager = Trackable.objects.db_manager(alias)
    pks = [manager.create(name="deep", quantity=0, price=Decimal("1.00")).pk for _ in range(2)]
    # A plain QuerySet.update: sets the history column as it is, bypassing the audit trail on purpose.
    models.QuerySet.update(manager.filter(pk__in=pks), history=entries)
    naive = NaiveHistory.objects.db_manager(alias).create(
        name="deep", quantity=0, price=Decimal("1.00"), history=entries
    )
    return pks, naive.pk


def update_in_db(manager, pk):
    obj = manager.get(pk=pk)
    obj.quantity += 1
    obj.save()


def update_in_db_deferred(manager, pk):
    obj = manager.defer("history").get(pk=pk)
    obj.quantity += 1
    obj.save()


def update_naive(manager, pk):
    obj = manager.get(pk=pk)
    obj.history.append(naive_entry(obj.quantity, obj.quantity + 1))
    obj.quantity += 1
    obj.save()


def measure(alias, lengths, repeats):
    """{length: {variant: median seconds per update}}, variants taking turns."""
    from benchapp.models import NaiveHistory, Trackable

    results = {}
    with router.use(alias):
        for length in lengths:
            (full_pk, deferred_pk), naive_pk = prepare(alias, length)
            variants = {
                "in-DB append": (update_in_db, Trackable.objects.db_manager(alias), full_pk),
                "in-DB, history deferred": (update_in_db_deferred, Trackable.objects.db_manager(alias), deferred_pk),
                "naive rewrite": (update_naive, NaiveHistory.objects.db_manager(alias), naive_pk),
            }
            samples = {name: [] for name in variants}
            for _ in range(repeats + 1):  # the first pass is a warm-up
                for name, (fn, manager, pk) in variants.items():
                    start = time.perf_counter()
                    fn(manager, pk)
                    samples[name].append(time.perf_counter() - start)
            results[length] = {name: median(values[1:]) for name, values in samples.items()}
            # Each update must have appended exactly one entry.
            for name, (_, manager, pk) in variants.items():
                held = len(manager.get(pk=pk).history)
                if held != length + repeats + 1:
                    results[length].setdefault("errors", []).append(
                        f"{name}: history holds {held:,} entries after {repeats + 1} updates, "
                        f"expected {length + repeats + 1:,}"
                    )
            reset_tables(alias, [Trackable, NaiveHistory])
    return results


def report(alias, title, lengths, repeats):
    results = measure(alias, lengths, repeats)
    rows = []
    for length, times in results.items():
        naive = times["naive rewrite"]
        rows.append(
            [
                f"{length:,}",
                fmt_seconds(times["in-DB append"]),
                fmt_seconds(times["in-DB, history deferred"]),
                fmt_seconds(naive),
                fmt_ratio(naive / times["in-DB append"]),
                fmt_ratio(naive / times["in-DB, history deferred"]),
            ]
        )
    notes = [
        f"Median of {repeats} updates each (after one warm-up), variants taking turns. Every variant is get(pk=) +",
        "change one field + save(), i.e. it includes loading the row. in-DB append: TrackableModel as a project",
        "uses it. history deferred: .defer('history').get(), so the list is never read into Python. naive: a",
        "plain model with a JSONField, entry appended in Python, whole list written back.",
    ]
    notes += [
        f"ERROR at {length:,}: {error}" for length, times in results.items() for error in times.get("errors", ())
    ]
    print_table(
        title,
        ["entries", "in-DB append", "in-DB, deferred", "naive rewrite", "naive/in-DB", "naive/deferred"],
        rows,
        notes=notes,
    )
    return results
