"""Models with the same business fields (name, quantity, price), differing only in how changes are audited.

Each is written the way a project would write it. Tables are created with `migrate --run-syncdb` (no migrations).
"""

import pghistory
from apps.core.models import TimestampedModel, TrackableModel
from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


def name_field():
    return models.CharField(max_length=100)


def quantity_field():
    return models.IntegerField(default=0)


def price_field():
    return models.DecimalField(max_digits=12, decimal_places=2, default=0)


class Plain(models.Model):
    """No audit trail at all: the baseline every ratio is measured against."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()


class Trackable(TrackableModel):
    """apps.core.models.TrackableModel: history appended by the database in the same UPDATE."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()


class Timestamped(TimestampedModel):
    """apps.core.models.TimestampedModel: TrackableModel plus date_added/date_updated/date_deleted."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()


class SimpleHistoryModel(models.Model):
    """django-simple-history: one row in a historical table per save."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()

    history = HistoricalRecords()


class AuditlogModel(models.Model):
    """django-auditlog (registered in apps.py): reads the old row, then inserts a LogEntry per save."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()


class SameWidthColumns(models.Model):
    """TrackableModel's extra columns (created_at, updated_at, created_by, updated_by, history) on a plain model:
    what a row of that width costs to write, without an audit trail (table 9's baseline)."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True


class PlainSameWidth(SameWidthColumns):
    """A plain model as wide as TrackableModel, written through the ORM."""


class RawSqlLimit(SameWidthColumns):
    """The same columns, written by table 9's hand-written SQL (benchlib/raw_writes.py): each write and its history
    entry in one statement, with no ORM around it. The limit an ORM-level audit trail can approach."""


@pghistory.track()
class PghistoryModel(models.Model):
    """django-pghistory (PostgreSQL triggers): an event row per insert and per changing update, written by the
    database itself."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()


class NaiveHistory(models.Model):
    """A plain JSON list rewritten from Python on every change: the naive alternative to the in-database append."""

    name = name_field()
    quantity = quantity_field()
    price = price_field()
    history = models.JSONField(default=list, blank=True)


class JobStart(models.Model):
    """Table 6 (task workers): when a job started running, written by the job itself, to measure how long after its
    enqueueing a waiting worker started it."""

    system = models.CharField(max_length=40)
    key = models.CharField(max_length=40)
    at = models.FloatField(help_text="time.time() when the job started")
