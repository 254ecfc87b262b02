"""Table 2: time for N creates and N single-field updates per approach, median of R rounds, ratio to plain."""

from . import router
from .subjects import new_values, subjects
from .util import fmt_ratio, fmt_seconds, median, print_table, reset_tables, timed

OPERATIONS = ("create", "update", "get+update")
# get+update runs on a quarter of the rows: it is informative, not a goal, and the full run must stay short.
GET_UPDATE_SHARE = 4


def one_round(alias, manager, tables, rows):
    reset_tables(alias, tables)
    times = {"create": timed(lambda: [manager.create(**new_values(i)) for i in range(rows)])}
    objs = list(manager.order_by("pk"))  # loaded outside the timing (the snapshot is taken here)

    def update_loaded():
        for obj in objs:
            obj.quantity += 1
            obj.save()

    times["update"] = timed(update_loaded)
    pks = [obj.pk for obj in objs[: max(rows // GET_UPDATE_SHARE, 1)]]

    def get_and_update():
        for pk in pks:
            obj = manager.get(pk=pk)
            obj.quantity += 1
            obj.save()

    times["get+update"] = timed(get_and_update)
    return times


def measure(alias, rows, rounds):
    """{label: {operation: median seconds}}; the approaches take turns inside each round, in a rotating order."""
    entries = subjects()
    samples = {label: {op: [] for op in OPERATIONS} for label, _, _ in entries}
    with router.use(alias):
        for r in range(rounds):
            order = entries[r % len(entries) :] + entries[: r % len(entries)]
            for label, model, tables in order:
                manager = model._default_manager.db_manager(alias)
                for op, seconds in one_round(alias, manager, tables, rows).items():
                    samples[label][op].append(seconds)
            for _, _, tables in entries:
                reset_tables(alias, tables)
    return {label: {op: median(values) for op, values in ops.items()} for label, ops in samples.items()}


def report(alias, title, rows, rounds):
    results = measure(alias, rows, rounds)
    plain = results["plain"]
    table = []
    for label, times in results.items():
        table.append(
            [
                label,
                fmt_seconds(times["create"]),
                fmt_ratio(times["create"] / plain["create"]),
                fmt_seconds(times["update"]),
                fmt_ratio(times["update"] / plain["update"]),
                fmt_seconds(times["get+update"]),
                fmt_ratio(times["get+update"] / plain["get+update"]),
            ]
        )
    print_table(
        title,
        [
            "model",
            f"{rows:,} creates",
            "vs plain",
            f"{rows:,} updates",
            "vs plain",
            f"{max(rows // GET_UPDATE_SHARE, 1):,} get+updates",
            "vs plain",
        ],
        table,
        notes=[
            f"Median of {rounds} rounds; the approaches take turns within each round. Each write is its own",
            "transaction (autocommit). create: Model.objects.create(). update: change one field of a row loaded",
            "beforehand, save() (the ratio the goals use). get+update: get(pk=) + change one field + save(), so",
            "it includes loading the row (and TrackableModel's snapshot).",
        ],
    )
    return results
