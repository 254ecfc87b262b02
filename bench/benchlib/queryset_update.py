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
    """(label, model, audited): the last row is the floor, the same UPDATE of TrackableModel's rows, not audited."""
    from benchapp import models

    return [
        ("plain", models.Plain, True),
        ("TrackableModel", models.Trackable, True),
        ("TimestampedModel", models.Timestamped, True),
        ("TrackableModel rows, not audited", models.Trackable, False),
    ]


def one_round(alias, model, audited, rows):
    from django.db import connections, models
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    reset_tables(alias, [model])
    model._default_manager.db_manager(alias).bulk_create([model(**new_values(i)) for i in range(rows)])
    analyze(alias, [model])  # quantity i above: every old value differs
    manager = model._default_manager.db_manager(alias) if audited else models.QuerySet(model, using=alias)
    with CaptureQueriesContext(connections[alias]) as captured:
        seconds = timed(lambda: manager.update(quantity=F("quantity") + 1))
    constant = timed(lambda: manager.update(name="same for all"))
    return seconds, constant, data_statements(captured)


def report(alias, title, rows, rounds):
    results = {}
    with router.use(alias):
        for label, model, audited in subjects():
            samples = [one_round(alias, model, audited, rows) for _ in range(rounds)]
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
            f"Median of {rounds} rounds. F() + 1: update(quantity=F('quantity') + 1); constant: update(name=...).",
            "The audited UPDATE writes each row's entry from its old value, built by the database, in the same",
            "statement. 'not audited': a plain QuerySet's UPDATE of the same TrackableModel rows, the floor set by",
            "the rows themselves (they carry the audit columns and the history). Statements: the F() + 1 update,",
            "transaction control not counted.",
        ],
    )
    return {label: expression / plain_expression for label, (expression, _c, _s) in results.items()}
