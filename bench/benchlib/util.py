"""Table printing, timing, statement counting and table resets shared by the benchmark tables."""

import gc
import statistics
import time

from django.db import connections

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def print_table(title, headers, rows, notes=()):
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(row[i]) for row in cells)) if cells else len(str(h)) for i, h in enumerate(headers)
    ]

    def line(values):
        first, *rest = values
        return "  ".join([first.ljust(widths[0]), *(v.rjust(w) for v, w in zip(rest, widths[1:], strict=True))])

    print()
    print(title)
    print(line([str(h) for h in headers]))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    for note in notes:
        print(f"  {note}")
    print(flush=True)


def print_skipped(title, reason):
    print()
    print(title)
    print(f"  skipped: {reason}")
    print(flush=True)


def timed(fn):
    """Seconds taken by fn() (garbage collected first so an earlier step's garbage is not charged to it)."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_seconds(seconds):
    if seconds != seconds:  # nan
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def fmt_ratio(value):
    return "n/a" if value is None or value != value else f"{value:.2f}x"


def data_statements(captured):
    """The statements of a CaptureQueriesContext, without transaction control (BEGIN, COMMIT, SAVEPOINT...)."""
    sqls = [query["sql"].lstrip() for query in captured.captured_queries]
    return [sql for sql in sqls if not sql.upper().startswith(TRANSACTION_CONTROL)]


def describe_statements(statements):
    """'3: SELECT+UPDATE+INSERT'."""
    kinds = [sql.split(None, 1)[0].upper() for sql in statements]
    return f"{len(kinds)}: {'+'.join(kinds)}" if kinds else "0"


def reset_tables(alias, models):
    """Empty the tables of `models` (and restart their ids), outside any timing."""
    connection = connections[alias]
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "TRUNCATE {} RESTART IDENTITY".format(", ".join(connection.ops.quote_name(t) for t in tables))
            )
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
            cursor.execute("DELETE FROM sqlite_sequence")


def analyze(alias, models):
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
