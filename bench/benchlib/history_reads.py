"""Table 11: reading histories (apps/core/audit/reads.py and feed.py).

- `obj.history.as_of(when)` of a row whose history holds 10 / 1,000 / 10,000 entries, the history in memory (the
  reconstruction alone) and `get()` + `as_of()` (what a caller pays), median, in milliseconds;
- `MyModel.objects.changed_by(user)` over 100,000 rows of one model, 1% of them changed by that user, against a plain
  indexed lookup of the same rows (`filter(created_by=user)`, the foreign key's index), with PostgreSQL's plan: the
  history's GIN index is used there (goal: within 10x of the plain lookup); SQLite scans, in SQL;
- `activity()` over 10 audited models (1,000 rows each, two entries per row): its first page of 50, the first page
  of one user's changes, and `len()`, with the queries each takes (at most one per model).
"""

import datetime
import time
from decimal import Decimal

from django.db import connections, models
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from . import router
from .util import analyze, fmt_ratio, median, print_table, reset_tables

FEED_MODELS = 10


def _entries(length):
    """`length` entries as the trail writes them: a "create", then updates of quantity, a second apart."""
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def moment(i):
        return (at + datetime.timedelta(seconds=i)).isoformat(timespec="microseconds")

    create = {
        "at": moment(0),
        "by": None,
        "by_name": None,
        "action": "create",
        "changes": {
            "name": {"old": None, "new": "deep"},
            "quantity": {"old": None, "new": 0},
            "price": {"old": None, "new": "1.00"},
        },
    }
    updates = [
        {
            "at": moment(i),
            "by": 7,
            "by_name": "alice",
            "action": "update",
            "changes": {"quantity": {"old": i - 1, "new": i}},
        }
        for i in range(1, length)
    ]
    return [create, *updates], at


def _user(alias, name):
    """A user of the bench database, made once (whatever field the project signs users in with)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    users = User._default_manager.db_manager(alias)
    value = name if User.USERNAME_FIELD != "email" else f"{name}@example.com"
    return users.filter(**{User.USERNAME_FIELD: value}).first() or users.create(**{User.USERNAME_FIELD: value})


def _ms(seconds):
    return "n/a" if seconds != seconds else f"{seconds * 1000:.2f} ms"


def measure_as_of(alias, lengths, repeats):
    """{length: (median seconds of as_of() with the history in memory, of get() + as_of())}."""
    from benchapp.models import Trackable

    results = {}
    with router.use(alias):
        for length in lengths:
            reset_tables(alias, [Trackable])
            manager = Trackable.objects.db_manager(alias)
            pk = manager.create(name="deep", quantity=0, price=Decimal("1.00")).pk
            history, start = _entries(length)
            models.QuerySet.update(manager.filter(pk=pk), history=history)  # bypasses the trail, on purpose
            middle = start + datetime.timedelta(seconds=length // 2, microseconds=1)
            loaded = manager.defer(None).get(pk=pk)
            assert loaded.history.as_of(middle).quantity == length // 2  # the figures are of a correct read
            in_memory, with_get = [], []
            for _ in range(repeats):
                began = time.perf_counter()
                loaded.history.as_of(middle)
                in_memory.append(time.perf_counter() - began)
                began = time.perf_counter()
                manager.get(pk=pk).history.as_of(middle)
                with_get.append(time.perf_counter() - began)
            results[length] = (median(in_memory), median(with_get))
    return results


def measure_changed_by(alias, rows, repeats):
    """(median seconds of changed_by(user), of filter(created_by=user), rows found by each, the plan's first lines
    on PostgreSQL)."""
    from apps.core.current_user import acting_as
    from benchapp.models import Trackable

    with router.use(alias):
        reset_tables(alias, [Trackable])
        alice, bob = _user(alias, "bench-alice"), _user(alias, "bench-bob")
        manager = Trackable.objects.db_manager(alias)
        mine = rows // 100
        with acting_as(None):
            manager.bulk_create(
                [Trackable(name=f"row {i}", quantity=i, price=Decimal("1.00")) for i in range(rows - mine)],
                batch_size=5000,
            )
        with acting_as(alice):
            manager.bulk_create(
                [Trackable(name=f"mine {i}", quantity=i, price=Decimal("1.00")) for i in range(mine)], batch_size=5000
            )
        with acting_as(bob):  # a second entry on every row, by someone else
            manager.update(quantity=F("quantity") + 1)
        analyze(alias, [Trackable])
        audited, plain = [], []
        found = {}
        for _ in range(repeats):
            began = time.perf_counter()
            found["changed_by"] = len(list(manager.changed_by(alice).values_list("pk", flat=True)))
            audited.append(time.perf_counter() - began)
            began = time.perf_counter()
            found["created_by"] = len(list(manager.filter(created_by=alice).values_list("pk", flat=True)))
            plain.append(time.perf_counter() - began)
        plan = []
        if connections[alias].vendor == "postgresql":
            plan = manager.changed_by(alice).explain().splitlines()[:4]
    return median(audited), median(plain), found, plan


def feed_models():
    """FEED_MODELS audited models of the bench app, defined once (their tables are made by make_feed_tables())."""
    from apps.core.models import TrackableModel
    from django.apps import apps

    made = []
    for index in range(FEED_MODELS):
        name = f"Feed{index}"
        try:
            made.append(apps.get_model("benchapp", name))
            continue
        except LookupError:
            pass
        attrs = {
            "__module__": "benchapp.models",
            "name": models.CharField(max_length=100),
            "quantity": models.IntegerField(default=0),
            "Meta": type("Meta", (), {"app_label": "benchapp"}),
        }
        made.append(type(name, (TrackableModel,), attrs))
    return made


def measure_activity(alias, rows_per_model, repeats):
    """{what: (median seconds, queries, items)} for activity() over FEED_MODELS models."""
    from apps.core.audit import activity
    from apps.core.current_user import acting_as

    feed = feed_models()
    connection = connections[alias]
    with connection.schema_editor() as editor:
        existing = set(connection.introspection.table_names())
        for model in feed:
            if model._meta.db_table not in existing:
                editor.create_model(model)
    alice = _user(alias, "bench-alice")
    results = {}
    with router.use(alias):
        reset_tables(alias, feed)
        for index, model in enumerate(feed):
            manager = model.objects.db_manager(alias)
            manager.bulk_create([model(name=f"{index}-{i}", quantity=i) for i in range(rows_per_model)])
            with acting_as(alice if index == 0 else None):
                manager.filter(quantity__lt=rows_per_model // 10).update(quantity=F("quantity") + 1)
        analyze(alias, feed)
        cases = {
            "activity()[:50]": lambda: activity(models=feed)[:50],
            "activity(user=alice)[:50]": lambda: activity(user=alice, models=feed)[:50],
            "len(activity())": lambda: len(activity(models=feed)),
        }
        for label, read in cases.items():
            times, queries, items = [], 0, None
            for _ in range(repeats):
                with CaptureQueriesContext(connection) as captured:
                    began = time.perf_counter()
                    items = read()
                    times.append(time.perf_counter() - began)
                queries = len(captured.captured_queries)
            results[label] = (median(times), queries, items if isinstance(items, int) else len(items))
    return results


def report(alias, title, lengths, repeats, changed_by_rows, rows_per_model):
    """Print table 11 for `alias`; return {"changed_by_ratio": ..., "as_of_10000_ms": ...}."""
    as_of = measure_as_of(alias, lengths, repeats)
    print_table(
        f"{title}: as_of() of a row whose history holds N entries",
        ["entries", "as_of (in memory)", "get + as_of"],
        [[f"{length:,}", _ms(memory), _ms(total)] for length, (memory, total) in as_of.items()],
        ["as_of() rebuilds the values from the entries up to the moment: it grows with the history it reads."],
    )
    audited, plain, found, plan = measure_changed_by(alias, changed_by_rows, repeats)
    ratio = audited / plain if plain else float("nan")
    print_table(
        f"{title}: changed_by(user) over {changed_by_rows:,} rows ({found['changed_by']:,} changed by that user)",
        ["query", "time", "rows", "ratio"],
        [
            ["changed_by(user)", _ms(audited), f"{found['changed_by']:,}", fmt_ratio(ratio)],
            ["filter(created_by=user) (plain indexed lookup)", _ms(plain), f"{found['created_by']:,}", "1.00x"],
        ],
        [f"plan: {line.strip()}" for line in plan]
        or ["SQLite: no index of the history (changed_by() scans every row's entries, in SQL)."],
    )
    feed = measure_activity(alias, rows_per_model, repeats)
    print_table(
        f"{title}: activity() over {FEED_MODELS} audited models ({rows_per_model:,} rows each)",
        ["read", "time", "queries", "items"],
        [[label, _ms(seconds), str(queries), f"{items:,}"] for label, (seconds, queries, items) in feed.items()],
        [f"At most one query per model per page: {FEED_MODELS} models here."],
    )
    return {"changed_by_ratio": ratio, "as_of_ms": {length: memory * 1000 for length, (memory, _t) in as_of.items()}}
