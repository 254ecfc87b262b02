"""Table 1: SQL statements per write, counted with django.test.utils.CaptureQueriesContext."""

from django.db import connections
from django.test.utils import CaptureQueriesContext

from . import router
from .subjects import new_values, subjects
from .util import data_statements, describe_statements, print_table, reset_tables

OPERATIONS = ["create", "save()", "save(update_fields)", "deferred", "qs.update()"]
# Approaches whose QuerySet.update() writes an audit record (simple-history's and auditlog's bypass theirs).
AUDITS_QS_UPDATE = {"plain", "TrackableModel", "TimestampedModel"}


def count(alias, fn):
    with CaptureQueriesContext(connections[alias]) as captured:
        fn()
    return data_statements(captured)


def save_deferred(alias, manager, pk):
    """save() of a row loaded with .defer("history"): the database appends the entry, so the list is never read."""
    before = len(manager.get(pk=pk).history)
    obj = manager.defer("history").get(pk=pk)
    obj.quantity += 1
    cell = describe_statements(count(alias, obj.save))
    if "history" not in obj.get_deferred_fields():
        cell += " (history read)"
    if len(manager.get(pk=pk).history) != before + 1:
        cell += " (ENTRY LOST)"
    return cell


def one_round(alias, manager, pk):
    """{operation: table cell} for the row `pk`, created here."""
    cells = {"create": describe_statements(count(alias, lambda: manager.create(**new_values(pk))))}
    obj = manager.get(pk=pk)
    obj.quantity += 1
    cells["save()"] = describe_statements(count(alias, obj.save))
    obj = manager.get(pk=pk)
    obj.quantity += 1
    cells["save(update_fields)"] = describe_statements(count(alias, lambda: obj.save(update_fields=["quantity"])))
    if hasattr(manager.model, "_history_entry"):  # TrackableModel and its subclasses
        cells["deferred"] = save_deferred(alias, manager, pk)
    else:
        cells["deferred"] = "-"
    cells["qs.update()"] = describe_statements(count(alias, lambda: manager.filter(pk=pk).update(quantity=1000 + pk)))
    return cells


def measure(alias):
    """{label: {operation: cell}}: one warm-up round (fills ContentType and other caches), then one counted."""
    results = {}
    with router.use(alias):
        for label, model, tables in subjects():
            reset_tables(alias, tables)
            manager = model._default_manager.db_manager(alias)
            one_round(alias, manager, 1)
            results[label] = one_round(alias, manager, 2)
            if label not in AUDITS_QS_UPDATE:
                results[label]["qs.update()"] += " (no audit)"
    return results


def report(alias, title):
    results = measure(alias)
    print_table(
        title,
        ["model", "create()", "save()", "save(update_fields=[1])", "save(), history deferred", "qs.update()"],
        [[label, *(cells[op] for op in OPERATIONS)] for label, cells in results.items()],
        notes=[
            "Counted: every SQL statement the operation sends through Django's connection, after one warm-up round;",
            "not counted: transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE SAVEPOINT). save(): change one field",
            "of a row loaded with get() beforehand (that SELECT is not counted). history deferred: the row loaded",
            "with .defer('history'). qs.update(): filter(pk=...).update(quantity=...). Autocommit, no acting user.",
            "'(no audit)': the library does not record QuerySet.update() at all.",
        ],
    )
    return results
