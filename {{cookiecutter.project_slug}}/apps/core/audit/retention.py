"""Keeping histories cheap and short: the in-row limit (`history_row_limit`) and retention (`prune_history`).

**The in-row limit.** The database rewrites a row's whole history column on every append, so a save's cost grows
with the history. A model (or the project, with the setting `AUDIT_HISTORY_ROW_LIMIT`) can set
`history_row_limit = N`: a row holds about N entries at most. Once a write takes it past N, its oldest entries move
into one ArchivedHistory chunk and the row keeps its newest N/2, so that the next move is N/2 writes away. The check
is part of the write (one small query after a save, or before a QuerySet.update() of the rows it matches) and the
move is two statements, so no worker has to run for it. A process checks a row on the first save it makes of it and
then on every limit/100th save (`saves_between_checks()`): a row saved over and over, the kind that grows long, sends
that query on one save in a hundredth of its limit, and can pass its limit by as many entries (for each process
saving it) before it is trimmed. `history_of()` reads the chunks and the row as one history; `obj.history` is what
the row holds.

**Retention.** `prune()` removes entries older than a date from the archive and from the rows, in batches of
`batch_size` rows, each batch in its own transaction (a failure leaves every batch it did not reach untouched), and
appends a "prune" entry (the date, not the values) to each live row whose history it shortened.
"""

import datetime
import functools
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections, models, transaction
from django.dispatch import receiver
from django.utils import timezone

from . import entries, tracker
from .archive import ArchivedHistory, insert_columns
from .expressions import HistoryLength, append_entries
from .sequence import column, history_model, stored_pk

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

PRUNE = "prune"

# Rows (or archived records) per transaction when pruning.
PRUNE_BATCH = 10_000


def row_limit(model: type[models.Model]) -> int | None:
    """The model's `history_row_limit`, else the project's AUDIT_HISTORY_ROW_LIMIT; None keeps everything in the
    row."""
    limit: Any = getattr(model, "history_row_limit", _UNSET)
    return _project_row_limit() if limit is _UNSET else limit


_UNSET = object()


@functools.cache
def _project_row_limit() -> int | None:
    """AUDIT_HISTORY_ROW_LIMIT, read once rather than on every write (reading a setting that is not there costs an
    exception each time), and again when it changes (override_settings)."""
    return getattr(settings, "AUDIT_HISTORY_ROW_LIMIT", None)


@receiver(setting_changed, dispatch_uid="apps.core.audit.retention.row_limit")
def _forget_project_row_limit(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUDIT_HISTORY_ROW_LIMIT":
        _project_row_limit.cache_clear()


def _kept(limit: int) -> int:
    """The entries a trimmed row keeps: its newest half, so that moves come every limit/2 writes, not on every one."""
    return limit - limit // 2


def after_save(instance: models.Model, using: str) -> None:
    """Trim the row just saved if its history outgrew its model's limit."""
    model = type(instance)
    limit = row_limit(model)
    if limit is None or instance.pk is None or not _check_due(model, using, instance.pk, limit):
        return
    rows = model._base_manager.db_manager(using).filter(pk=instance.pk)
    length = rows.annotate(_entries=HistoryLength("history")).values_list("_entries", flat=True).first()
    if length is not None and length > limit:
        trim(model, using, rows)


# Saves this process made of a row since it last read the row's length: {(model label, database, key): saves}.
# Cleared when it holds _SAVES_TRACKED rows, after which every row is checked again on its next save.
_saves_unchecked: dict[tuple[str, str, Any], int] = {}
_SAVES_TRACKED = 10_000


def saves_between_checks(limit: int) -> int:
    """How often a process reads a row's length as it saves it: every limit/100th save (at least every save). The
    read is a query of its own, about as long as a get() of the row, which a save of a limited model would otherwise
    pay every time; a row trimmed this late holds at most 1 % more than its limit for each process saving it."""
    return max(1, limit // 100)


def _check_due(model: type[models.Model], using: str, pk: Any, limit: int) -> bool:
    """Whether this save reads the row's length: on the first save of the row this process makes (other processes,
    or a hand-written UPDATE, may have made it long) and then every `saves_between_checks()` saves. A count two
    threads race on may be off by a save; a row forgotten when the table is full is checked on its next save."""
    every = saves_between_checks(limit)
    if every == 1:
        return True
    key = (model._meta.label, using, pk)
    saves = _saves_unchecked.get(key)
    if saves is not None and saves + 1 < every:
        _saves_unchecked[key] = saves + 1
        return False
    if len(_saves_unchecked) >= _SAVES_TRACKED:
        _saves_unchecked.clear()
    _saves_unchecked[key] = 0
    return True


def before_update(queryset: models.QuerySet) -> None:
    """Trim the rows a QuerySet.update() is about to append to, where they reached their model's limit."""
    limit = row_limit(queryset.model)
    if limit is not None:
        trim(queryset.model, queryset.db, queryset, threshold=limit - 1)


def trim(model: type[models.Model], using: str, rows: models.QuerySet, threshold: int | None = None) -> int:
    """Move the oldest entries of each row of `rows` holding more than `threshold` (by default its model's
    `history_row_limit`) into the archive, so that it keeps the newest half of its limit. Returns the number of rows
    trimmed."""
    limit = row_limit(model)
    if limit is None:
        return 0
    threshold = limit if threshold is None else threshold
    base = model._base_manager.db_manager(using)
    with transaction.atomic(using=using, savepoint=False):
        over = (
            base.filter(pk__in=rows.values("pk"))
            .select_for_update()
            .annotate(_entries=HistoryLength("history"))
            .filter(_entries__gt=threshold)
            .values_list("pk", "_entries")
        )
        cuts = {pk: length - _kept(limit) for pk, length in over}
        if cuts:
            _move_to_archive(model, using, cuts)
    return len(cuts)


_MOVE = {
    "postgresql": (
        "INSERT INTO {archive} ({columns}) "
        "SELECT %s, row.value ->> 'pk', '', false, NULL, "
        "(SELECT jsonb_agg(entry ORDER BY position) FROM jsonb_array_elements(t.{history}) WITH ORDINALITY "
        "AS moved(entry, position) WHERE position <= (row.value ->> 'cut')::int), (row.value ->> 'cut')::int, "
        "(t.{history} -> 0 ->> 'at')::timestamptz, "
        "(t.{history} -> ((row.value ->> 'cut')::int - 1) ->> 'at')::timestamptz, %s "
        "FROM jsonb_each(%s::jsonb) AS row JOIN {table} AS t ON t.{pk} = (row.key)::{pk_type} ORDER BY t.{pk}",
        "UPDATE {table} SET {history} = (SELECT COALESCE(jsonb_agg(entry ORDER BY position), '[]'::jsonb) "
        "FROM jsonb_array_elements({table}.{history}) WITH ORDINALITY AS kept(entry, position) "
        "WHERE position > (row.value ->> 'cut')::int) "
        "FROM jsonb_each(%s::jsonb) AS row WHERE {table}.{pk} = (row.key)::{pk_type}",
    ),
    "sqlite": (
        "INSERT INTO {archive} ({columns}) "
        "SELECT %s, row.value ->> '$.pk', '', 0, NULL, "
        "(SELECT json_group_array(json(moved.value)) FROM (SELECT value FROM json_each(t.{history}) "
        "WHERE key < row.value ->> '$.cut' ORDER BY key) AS moved), row.value ->> '$.cut', "
        "replace(substr(t.{history} ->> '$[0].at', 1, 26), 'T', ' '), "
        "replace(substr(json_extract(t.{history}, '$[' || ((row.value ->> '$.cut') - 1) || '].at'), 1, 26), 'T', ' '), "
        "%s FROM json_each(%s) AS row JOIN {table} AS t ON t.{pk} = row.key ORDER BY t.{pk}",
        "UPDATE {table} SET {history} = (SELECT json_group_array(json(kept.value)) FROM (SELECT value "
        "FROM json_each({table}.{history}) WHERE key >= row.value ->> '$.cut' ORDER BY key) AS kept) "
        "FROM json_each(%s) AS row WHERE {table}.{pk} = row.key",
    ),
}


def _move_to_archive(model: type[models.Model], using: str, cuts: dict[Any, int]) -> None:
    """Move the first `cut` entries of each row ({pk: cut}) into one archived chunk per row: two statements."""
    connection = connections[using]
    quote = connection.ops.quote_name
    opts = history_model(model)._meta
    insert, update = _MOVE[connection.vendor]
    names = {
        "archive": quote(ArchivedHistory._meta.db_table),
        "columns": insert_columns(quote),
        "history": quote(column(model, "history")),
        "table": quote(opts.db_table),
        "pk": quote(column(history_model(model), "pk")),
        "pk_type": opts.pk.cast_db_type(connection),  # type: ignore[attr-defined, unused-ignore]  # (5.2 stubs)
    }
    keyed = json.dumps(
        {
            str(opts.pk.get_db_prep_value(pk, connection)): {"pk": stored_pk(model, pk), "cut": cut}
            for pk, cut in cuts.items()
        }
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(insert.format(**names), [model._meta.label_lower, now, keyed])
        cursor.execute(update.format(**names), [keyed])


# Retention ----------------------------------------------------------------------------------------------------------


class FirstEntryAt(models.Func):
    """The "at" of the first entry of a history column (ISO-8601 text, UTC), or NULL for an empty history."""

    output_field = models.TextField()

    def as_sql(  # type: ignore[override]
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        column, params = compiler.compile(self.source_expressions[0])
        template = {"postgresql": "({0} -> 0 ->> 'at')", "sqlite": "({0} ->> '$[0].at')"}[connection.vendor]
        return template.format(column), params


class FirstEntryMoment(models.Func):
    """The "at" of the first entry of a history column as a datetime (as the column type stores it), or NULL."""

    output_field = models.DateTimeField()
    templates = {
        "postgresql": "(({0} -> 0 ->> 'at')::timestamptz)",
        # As Django stores a datetime on SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", UTC.
        "sqlite": "replace(substr({0} ->> '$[0].at', 1, 26), 'T', ' ')",
    }

    def as_sql(  # type: ignore[override]
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        column, params = compiler.compile(self.source_expressions[0])
        return self.templates[connection.vendor].format(column), params


class EntriesSince(models.Func):
    """The entries of a history column whose "at" is not before `since` (ISO-8601 text, UTC), in order."""

    output_field = models.JSONField()
    templates = {
        "postgresql": (
            "(SELECT COALESCE(jsonb_agg(entry ORDER BY position), '[]'::jsonb) FROM jsonb_array_elements({0}) "
            "WITH ORDINALITY AS kept(entry, position) WHERE entry ->> 'at' >= %s)"
        ),
        "sqlite": (
            "(SELECT json_group_array(json(kept.value)) FROM (SELECT value FROM json_each({0}) "
            "WHERE value ->> '$.at' >= %s ORDER BY key) AS kept)"
        ),
    }

    def __init__(self, history: Any, since: str) -> None:
        super().__init__(history)
        self.since = since

    def as_sql(  # type: ignore[override]
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> "_AsSqlType":
        column, params = compiler.compile(self.source_expressions[0])
        return self.templates[connection.vendor].format(column), (*params, self.since)


def iso(moment: datetime.datetime) -> str:
    """A moment as entries spell their "at": ISO-8601 in UTC, microseconds."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def prune(
    before: datetime.datetime,
    model_labels: list[str],
    audited_models: list[type[models.Model]],
    *,
    using: str = "default",
    dry_run: bool = False,
    batch_size: int = PRUNE_BATCH,
) -> dict[str, Counter]:
    """Remove the entries older than `before` of the given models' rows and archived records (`model_labels` are
    the archive's labels, which may name models no longer installed). Returns {label: Counter} with "records"
    (archived records removed), "entries" (entries removed) and "rows" (live rows given a "prune" entry)."""
    since = iso(before)
    report: dict[str, Counter] = {}
    by_label = {model._meta.label_lower: model for model in audited_models}
    now, user = timezone.now(), tracker.bulk_moment()[1]
    entry = {**entries.entry(PRUNE, {}, user, now), "before": since}
    for label in model_labels:
        counts = report.setdefault(label, Counter())
        model = by_label.get(label)
        shortened = _prune_archive(label, before, since, using, dry_run, batch_size, counts)
        if model is not None:
            _prune_rows(model, since, using, dry_run, batch_size, counts, entry, shortened)
    return report


def _prune_archive(label, before, since, using, dry_run, batch_size, counts):
    """Whole records older than `before` go; records straddling it lose their older entries. Returns the keys of
    the chunks (records of live rows) shortened, whose rows get a "prune" entry."""
    records = ArchivedHistory.objects.using(using).filter(model_label=label)
    shortened: set[str] = set()
    old = records.filter(last_at__lt=before)
    straddling = records.filter(first_at__lt=before, last_at__gte=before)
    if dry_run:
        counts["records"] += old.count()
        counts["entries"] += old.aggregate(n=models.Sum("entry_count"))["n"] or 0
        kept = straddling.annotate(_kept=HistoryLength(EntriesSince("entries", since)))
        counts["entries"] += sum(count - left for count, left in kept.values_list("entry_count", "_kept"))
        return shortened
    while True:
        with transaction.atomic(using=using):
            batch = list(
                old.order_by("id")
                .select_for_update()
                .values_list("id", "entry_count", "object_pk", "deleted")[:batch_size]
            )
            if not batch:
                break
            records.filter(id__in=[row[0] for row in batch]).delete()
        counts["records"] += len(batch)
        counts["entries"] += sum(row[1] for row in batch)
        shortened.update(row[2] for row in batch if not row[3])
    last_id = 0
    while True:
        with transaction.atomic(using=using):
            batch = list(
                straddling.filter(id__gt=last_id)
                .order_by("id")
                .select_for_update()
                .values_list("id", "entry_count", "object_pk", "deleted")[:batch_size]
            )
            if not batch:
                break
            last_id = batch[-1][0]
            chosen = records.filter(id__in=[row[0] for row in batch])
            models.QuerySet.update(chosen, entries=EntriesSince("entries", since))
            models.QuerySet.update(chosen, entry_count=HistoryLength("entries"), first_at=FirstEntryMoment("entries"))
            left = sum(chosen.values_list("entry_count", flat=True))
        counts["entries"] += sum(row[1] for row in batch) - left
        shortened.update(row[2] for row in batch if not row[3])
    return shortened


def _prune_rows(model, since, using, dry_run, batch_size, counts, entry, shortened_chunks):
    base = model._base_manager.db_manager(using)
    old = base.annotate(_first_at=FirstEntryAt("history")).filter(_first_at__lt=since)
    if dry_run:
        lengths = old.annotate(_all=HistoryLength("history"), _kept=HistoryLength(EntriesSince("history", since)))
        pruned = [(pk, total - kept) for pk, total, kept in lengths.values_list("pk", "_all", "_kept")]
        counts["entries"] += sum(removed for _pk, removed in pruned)
        chunk_rows = {model._meta.pk.to_python(pk) for pk in shortened_chunks}
        counts["rows"] += len(
            {pk for pk, removed in pruned if removed}
            | set(base.filter(pk__in=chunk_rows).values_list("pk", flat=True))
        )
        return
    done: set[Any] = set()
    last_pk = None
    while True:
        with transaction.atomic(using=using):
            rows = old.order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(
                rows.select_for_update().annotate(_all=HistoryLength("history")).values_list("pk", "_all")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1][0]
            chosen = base.filter(pk__in=[pk for pk, _total in batch])
            models.QuerySet.update(chosen, history=EntriesSince("history", since))
            left = dict(chosen.annotate(_all=HistoryLength("history")).values_list("pk", "_all"))
            append_entries(model, using, dict.fromkeys(left, entry))
        counts["entries"] += sum(total - left[pk] for pk, total in batch)
        counts["rows"] += len(batch)
        done.update(left)
    chunk_rows = {model._meta.pk.to_python(pk) for pk in shortened_chunks}
    remaining = sorted((chunk_rows - done), key=str)
    for start in range(0, len(remaining), batch_size):
        with transaction.atomic(using=using):
            alive = list(base.filter(pk__in=remaining[start : start + batch_size]).values_list("pk", flat=True))
            append_entries(model, using, dict.fromkeys(alive, entry))
        counts["rows"] += len(alive)
