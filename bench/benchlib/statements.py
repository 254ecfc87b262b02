"""Table 1: SQL statements per write, counted with django.test.utils.CaptureQueriesContext."""

from django.db import connections
from django.test.utils import CaptureQueriesContext

from . import router
from .subjects import new_values, subjects
from .util import data_statements, describe_statements, print_table, reset_tables

OPERATIONS = ["create", "save()", "save(update_fields)", "qs.update()"]
# Whether each approach records a QuerySet.update() at all (the others' bulk updates bypass their audit trail).
AUDITS_QS_UPDATE = {"plain": None, "TrackableModel": True, "TimestampedModel": True}


def count(alias, fn):
    with CaptureQueriesContext(connections[alias]) as captured:
        fn()
    return data_statements(captured)


def one_round(alias, manager, pk):
    counted = {"create": count(alias, lambda: manager.create(**new_values(pk)))}
    obj = manager.get(pk=pk)
    obj.quantity += 1
    counted["save()"] = count(alias, obj.save)
    obj = manager.get(pk=pk)
    obj.quantity += 1
    counted["save(update_fields)"] = count(alias, lambda: obj.save(update_fields=["quantity"]))
    counted["qs.update()"] = count(alias, lambda: manager.filter(pk=pk).update(quantity=1000 + pk))
    return counted


def measure(alias):
    """{label: {operation: [sql, ...]}}: one warm-up round (fills ContentType and other caches), one counted."""
    results = {}
    with router.use(alias):
        for label, model, tables in subjects():
            reset_tables(alias, tables)
            manager = model._default_manager.db_manager(alias)
            one_round(alias, manager, 1)
            results[label] = one_round(alias, manager, 2)
    return results


def report(alias, title):
    results = measure(alias)
    rows = []
    for label, counted in results.items():
        cells = [describe_statements(counted[op]) for op in OPERATIONS]
        if AUDITS_QS_UPDATE.get(label, False) is False:
            cells[-1] += " (no audit)"
        rows.append([label, *cells])
    print_table(
        title,
        ["model", "create()", "save() of loaded row", "save(update_fields=[1])", "filter(pk=).update(1 field)"],
        rows,
        notes=[
            "Counted: every SQL statement the operation sends through Django's connection, after one warm-up round;",
            "not counted: transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE SAVEPOINT). The row is loaded with",
            "get() before save(); that SELECT is not counted. Autocommit, no acting user. '(no audit)': the",
            "library does not record QuerySet.update() at all.",
        ],
    )
    return results
