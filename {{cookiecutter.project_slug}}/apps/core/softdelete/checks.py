"""System checks of timestamped models: soft-deleted rows must stay visible to Django's own machinery."""

from django.core import checks
from django.db import models

from ..audit.checks import filtering_manager_warning


def check_timestamped_model(model: type[models.Model]) -> list[checks.CheckMessage]:
    if model._meta.abstract:
        return []
    manager = model._default_manager
    if manager.get_queryset().query.where:
        return [filtering_manager_warning(model, "default", manager)]
    return []
