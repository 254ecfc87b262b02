"""`date_deleted`: a DateTimeField that a plain save() writes only when the instance changed it, so that an
instance loaded before another process deleted the row does not bring the row back by saving something else."""

from collections.abc import Sequence
from typing import Any

from django.db import models

from ..audit import tracker
from ..audit.expressions import KeepColumn, column_of


class DeletionDateField(models.DateTimeField):
    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        # Migrations name it by its public path, so that it can move within the app without a migration.
        name, path, args, kwargs = super().deconstruct()
        return name, "apps.core.fields.DeletionDateField" if type(self) is DeletionDateField else path, args, kwargs

    def pre_save(self, instance: models.Model, add: bool) -> Any:
        if not add and tracker.unchanged(instance, self):
            return KeepColumn(column_of(self))
        return super().pre_save(instance, add)
