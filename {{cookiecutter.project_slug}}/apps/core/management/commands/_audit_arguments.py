"""What prune_history and redact_history both read from their command line: audited models named by label."""

from django.apps import apps
from django.core.management.base import CommandError
from django.db import models

from apps.core.audit.sequence import audited


def audited_model(label: str) -> type[models.Model]:
    """The audited model named `label` ("app_label.Model"), or one clear error."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise CommandError(f"{label!r} is not an installed model (write it as app_label.ModelName).") from None
    if not audited(model):
        raise CommandError(f"{model._meta.label} keeps no history: it is not a TrackableModel.")
    return model


def audited_models() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if audited(model) and not model._meta.proxy]
