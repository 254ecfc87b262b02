"""Recovering a row deleted for real from its archived record.

The row is created again with its key and the last values its record kept, its history starting with a "recover"
entry (the archive holds everything before it, so `history_of()` continues across the gap). Fields that are not
tracked (excluded secrets, fields Django stamps) were never archived: they take their defaults. A recover that
fails (a unique value taken meanwhile, say) creates nothing.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from . import entries, tracker
from .archive import ArchivedHistory

RECOVER = "recover"


def recoverable(record: ArchivedHistory, model: type[models.Model]) -> bool:
    """Whether `record` is the last deletion of a row that is not there now."""
    if not record.deleted:
        return False
    using = record._state.db or "default"
    key = model._meta.pk.to_python(record.object_pk)
    later = ArchivedHistory.objects.using(using).filter(
        model_label=record.model_label, object_pk=record.object_pk, deleted=True, id__gt=record.id
    )
    return not later.exists() and not model._base_manager.db_manager(using).filter(pk=key).exists()


def instance_from(record: ArchivedHistory, model: type[models.Model]) -> models.Model:
    """An unsaved instance of `model` holding the record's key and last values."""
    values: dict[str, Any] = {}
    stored = record.values or {}
    for field in entries.tracked_fields(model):
        if field.name in stored:
            value = stored[field.name]
            values[field.attname] = None if value is None else field.to_python(value)
    instance = model(**values)
    instance.pk = model._meta.pk.to_python(record.object_pk)
    return instance


def recover(record: ArchivedHistory, model: type[models.Model]) -> models.Model:
    """Create the row again from `record`; raises ValidationError when it cannot be (it is there already, or a
    unique value clashes), having created nothing."""
    using = record._state.db or "default"
    if not recoverable(record, model):
        raise ValidationError(f"This {model._meta.verbose_name} is not deleted, or was deleted again since.")
    instance = instance_from(record, model)
    instance.validate_unique()
    instance.validate_constraints()
    now, user = tracker.bulk_moment()
    recovered = entries.entry(RECOVER, {}, user, now, cause={"model": "core.archivedhistory", "pk": record.pk})
    with transaction.atomic(using=using):
        instance.save(force_insert=True, using=using)
        # The row's history starts where its record ended: the creation entry save() wrote is replaced.
        models.QuerySet.update(model._base_manager.db_manager(using).filter(pk=instance.pk), history=[recovered])
    tracker.forget_history(instance)
    return instance
