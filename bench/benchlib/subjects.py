"""The five approaches compared, each with the tables that must be emptied between rounds."""

from decimal import Decimal


def subjects():
    """[(label, model, [models whose tables belong to it])], plain first."""
    from auditlog.models import LogEntry
    from benchapp import models

    return [
        ("plain", models.Plain, [models.Plain]),
        ("TrackableModel", models.Trackable, [models.Trackable]),
        ("TimestampedModel", models.Timestamped, [models.Timestamped]),
        (
            "simple-history",
            models.SimpleHistoryModel,
            [models.SimpleHistoryModel, models.SimpleHistoryModel.history.model],
        ),
        ("auditlog", models.AuditlogModel, [models.AuditlogModel, LogEntry]),
    ]


def new_values(i):
    return {"name": f"row {i}", "quantity": i, "price": Decimal("9.99")}
