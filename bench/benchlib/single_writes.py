"""Table 9: single-row writes (create, get + save, save of a loaded row, a 1-row QuerySet.update()) and a 20-row
bulk_update(), per write, against a plain model as wide as TrackableModel, django-pghistory (PostgreSQL) and the
same writes in hand-written SQL; on a SQLite file in WAL mode and on PostgreSQL.
"""

from django.db.models import F

from . import router
from .raw_writes import RawWrites
from .subjects import new_values
from .util import fmt_ratio, fmt_seconds, median, print_table, reset_tables, timed

WORKLOADS = ("create", "get + save", "save loaded", "qs.update", "bulk_update")
BULK_ROWS = 20
BASELINE = "plain, same width"
WARM_UP_ROWS = BULK_ROWS


def subjects(vendor):
    """[(label, model, [models whose tables belong to it], writes by hand)]: the same-width plain model first."""
    from benchapp import models

    found = [
        (BASELINE, models.PlainSameWidth, [models.PlainSameWidth], False),
        ("plain", models.Plain, [models.Plain], False),
        ("TrackableModel", models.Trackable, [models.Trackable], False),
        ("TimestampedModel", models.Timestamped, [models.Timestamped], False),
    ]
    if vendor == "postgresql":  # its triggers are PostgreSQL's
        events = _event_model(models.PghistoryModel)
        found.append(("django-pghistory", models.PghistoryModel, [models.PghistoryModel, events], False))
    found.append(("limit (raw SQL)", models.RawSqlLimit, [models.RawSqlLimit], True))
    return found


def _event_model(model):
    """The event model django-pghistory generated for `model`."""
    from django.apps import apps

    return apps.get_model("benchapp", f"{model.__name__}Event")


def orm_round(manager, rows):
    """{workload: seconds} of `rows` writes of each kind (`rows` / BULK_ROWS bulk_update() calls) through the ORM."""
    times = {"create": timed(lambda: [manager.create(**new_values(i)) for i in range(rows)])}
    loaded = list(manager.order_by("pk"))  # outside the timing, as a view that loaded its rows before
    pks = [obj.pk for obj in loaded]

    def get_and_save():
        for pk in pks:
            obj = manager.get(pk=pk)
            obj.quantity += 1
            obj.save()

    def save_loaded():
        for obj in loaded:
            obj.quantity += 1
            obj.save()

    times["get + save"] = timed(get_and_save)
    loaded = list(manager.order_by("pk"))
    times["save loaded"] = timed(save_loaded)
    times["qs.update"] = timed(lambda: [manager.filter(pk=pk).update(quantity=F("quantity") + 1) for pk in pks])
    chunks = [chunk for chunk in _chunks(list(manager.order_by("pk"))) if len(chunk) == BULK_ROWS]

    def bulk_update():
        for chunk in chunks:
            for obj in chunk:
                obj.quantity += 1
            manager.bulk_update(chunk, ["quantity"])

    times["bulk_update"] = timed(bulk_update)
    return times


def raw_round(writes, rows):
    """orm_round()'s writes, in hand-written SQL."""
    times = {"create": timed(lambda: [writes.create(i) for i in range(rows)])}
    loaded = writes.rows()
    pks = [row[0] for row in loaded]
    times["get + save"] = timed(lambda: [writes.get_and_save(pk) for pk in pks])
    loaded = writes.rows()

    def save_loaded():
        for row in loaded:
            row[2] += 1
            writes.save(row)

    times["save loaded"] = timed(save_loaded)
    times["qs.update"] = timed(lambda: [writes.queryset_update(pk) for pk in pks])
    chunks = [chunk for chunk in _chunks(writes.rows()) if len(chunk) == BULK_ROWS]
    times["bulk_update"] = timed(lambda: [writes.bulk_update(chunk) for chunk in chunks])
    return times


def _chunks(items):
    return [items[start : start + BULK_ROWS] for start in range(0, len(items), BULK_ROWS)]


def one_round(alias, model, tables, by_hand, rows):
    reset_tables(alias, tables)
    if by_hand:
        times = raw_round(RawWrites(model, alias), rows)
    else:
        times = orm_round(model._default_manager.db_manager(alias), rows)
    reset_tables(alias, tables)
    return times


def measure(alias, vendor, rows, rounds):
    """{label: {workload: median seconds per write (per bulk_update() call)}}; the approaches take turns inside each
    round, in a rotating order."""
    entries = subjects(vendor)
    samples = {label: {workload: [] for workload in WORKLOADS} for label, *_ in entries}
    with router.use(alias):
        for _label, model, tables, by_hand in entries:  # a warm-up round, not counted
            one_round(alias, model, tables, by_hand, WARM_UP_ROWS)
        for r in range(rounds):
            order = entries[r % len(entries) :] + entries[: r % len(entries)]
            for label, model, tables, by_hand in order:
                for workload, seconds in one_round(alias, model, tables, by_hand, rows).items():
                    samples[label][workload].append(
                        seconds / (rows // BULK_ROWS if workload == "bulk_update" else rows)
                    )
    return {label: {op: median(values) for op, values in ops.items()} for label, ops in samples.items()}


def report(alias, title, rows, rounds):
    """Print the table; return {label: {workload: ratio to the same-width plain model}}."""
    from django.db import connections

    results = measure(alias, connections[alias].vendor, rows, rounds)
    base = results[BASELINE]
    ratios = {
        label: {workload: seconds / base[workload] for workload, seconds in times.items()}
        for label, times in results.items()
    }
    print_table(
        title,
        ["model", *(f"{w}{' (20 rows)' if w == 'bulk_update' else ''}" for w in WORKLOADS)],
        [
            [
                label,
                *(f"{fmt_seconds(times[w])} {fmt_ratio(ratios[label][w])}" for w in WORKLOADS),
            ]
            for label, times in results.items()
        ],
        notes=[
            f"Time per write, median of {rounds} rounds of {rows:,} writes each after a warm-up (bulk_update: per",
            f"call of {BULK_ROWS} rows, {rows // BULK_ROWS:,} calls), and the ratio to '{BASELINE}' (a plain model",
            "with TrackableModel's extra columns: created_at, updated_at, created_by, updated_by, history). Each",
            "write is its own transaction (autocommit); the approaches take turns within each round. get + save:",
            "get(pk=), one field changed, save(). save loaded: save() of a row loaded beforehand. qs.update:",
            "filter(pk=).update(quantity=F() + 1). limit (raw SQL): the same write and the same history entry in",
            "one hand-written statement.",
        ],
    )
    return ratios


def summary(ratios, key):
    """`<key>=c/g/s/u/b`: the five workloads' ratios to the same-width plain model, or n/a."""
    if ratios is None:
        return f"{key}=n/a"
    return f"{key}=" + "/".join(f"{ratios[w]:.2f}" for w in WORKLOADS)
