"""Table 6: QuerySet.update() of N rows whose old values all differ, against a plain model's update.

Each row's entry records its own old value, so the audited update reads the old values, writes the new ones (Django's
own UPDATE) and appends N different entries: the goal is a constant number of statements per batch, not one
`When()` per row, at most 3x the plain model's update.
"""

from . import router
from .subjects import new_values
from .util import (
    analyze,
    data_statements,
    describe_statements,
    fmt_ratio,
    fmt_seconds,
    median,
    print_table,
    reset_tables,
    timed,
)


def subjects():
    from benchapp import models

    return [("plain", models.Plain), ("TrackableModel", models.Trackable), ("TimestampedModel", models.Timestamped)]


def one_round(alias, model, rows):
    from django.db import connections
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    reset_tables(alias, [model])
    manager = model._default_manager.db_manager(alias)
    manager.bulk_create([model(**new_values(i)) for i in range(rows)])  # quantity i: every old value differs
    analyze(alias, [model])
    with CaptureQueriesContext(connections[alias]) as captured:
        seconds = timed(lambda: manager.update(quantity=F("quantity") + 1))
    constant = timed(lambda: manager.update(name="same for all"))
    return seconds, constant, data_statements(captured)


def report(alias, title, rows, rounds):
    results = {}
    with router.use(alias):
        for label, model in subjects():
            samples = [one_round(alias, model, rows) for _ in range(rounds)]
            results[label] = (
                median([s for s, _, _ in samples]),
                median([c for _, c, _ in samples]),
                samples[-1][2],
            )
            reset_tables(alias, [model])
    plain_expression, plain_constant, _ = results["plain"]
    print_table(
        title,
        ["model", "F() + 1", "vs plain", "constant", "vs plain", "statements"],
        [
            [
                label,
                fmt_seconds(expression),
                fmt_ratio(expression / plain_expression),
                fmt_seconds(constant),
                fmt_ratio(constant / plain_constant),
                describe_statements(statements),
            ]
            for label, (expression, constant, statements) in results.items()
        ],
        notes=[
            f"Median of {rounds} rounds. F() + 1: update(quantity=F('quantity') + 1), which the database computes,",
            "so the audited update reads the new values back to record them. constant: update(name=...), whose new",
            "value is known. Statements: the F() + 1 update, transaction control not counted.",
        ],
    )
    return {label: expression / plain_expression for label, (expression, _c, _s) in results.items()}
