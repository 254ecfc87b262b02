"""System checks for models built on the base models: the mistakes that would quietly weaken the audit trail."""

from django.core import checks
from django.db import models

from . import entries


def check_trackable_model(model: type[models.Model]) -> list[checks.CheckMessage]:
    errors = _check_history_exclude(model)
    if not model._meta.abstract:
        errors += _check_managers(model) + _check_audit_fields(model) + _check_row_limit(model)
    return errors


# Below this, rows would move entries to the archive every few saves: more statements than the limit saves.
SMALLEST_USEFUL_ROW_LIMIT = 10


def _check_row_limit(model):
    """history_row_limit (or AUDIT_HISTORY_ROW_LIMIT) is None or a number of entries large enough to be worth it."""
    from .retention import row_limit

    limit = row_limit(model)
    source = (
        f"{model.__name__}.history_row_limit"
        if hasattr(model, "history_row_limit")
        else "settings.AUDIT_HISTORY_ROW_LIMIT"
    )
    if limit is None:
        return []
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return [
            checks.Error(
                f"{source} must be a positive number of entries, or None to keep every entry in the row; "
                f"not {limit!r}.",
                obj=model,
                id="core.E003",
            )
        ]
    if limit < SMALLEST_USEFUL_ROW_LIMIT:
        return [
            checks.Warning(
                f"{source} = {limit} keeps so few entries in {model._meta.label}'s rows that they move to the "
                f"archive every {max(limit // 2, 1)} saves, at the cost of two more statements each time; reading "
                "a row's history then means reading the archive too.",
                hint=f"Use at least {SMALLEST_USEFUL_ROW_LIMIT} (a few hundred suits most models), or None.",
                obj=model,
                id="core.W005",
            )
        ]
    return []


def _check_audit_fields(model):
    """An audit field a model declares again (with a db_default, say) is still set by the audit trail on each write."""
    errors = []
    for base in model.__mro__[1:]:
        if (
            getattr(base, "_meta", None) is None
            or not base._meta.abstract
            or "history_bookkeeping_fields" not in vars(base)
        ):
            continue
        for field in base._meta.local_fields:
            own = model._meta.get_field(field.name)
            if own.creation_counter != field.creation_counter and field.name in base.history_bookkeeping_fields:
                errors.append(
                    checks.Warning(
                        f"{model._meta.label} declares the audit field {field.name!r} again: the audit trail still "
                        "sets it on every write, whatever its default.",
                        hint="Keep the base model's field; add a field of your own for other timestamps.",
                        obj=model,
                        id="core.W004",
                    )
                )
    return errors


def _check_history_exclude(model: type[models.Model]) -> list[checks.CheckMessage]:
    own = model.__dict__.get("history_exclude", ())
    if isinstance(own, str):
        return [
            checks.Error(
                f"{model.__name__}.history_exclude must be a tuple or list of field names, not a string.",
                hint=f"Write history_exclude = ({own!r},)",
                obj=model,
                id="core.E001",
            )
        ]
    errors: list[checks.CheckMessage] = []
    if not model._meta.abstract:
        names = {name for field in model._meta.concrete_fields for name in (field.name, field.attname)}
        errors += [
            checks.Error(
                f"{model.__name__}.history_exclude names {name!r}, which is not a field of {model._meta.label}.",
                obj=model,
                id="core.E002",
            )
            for name in sorted(entries.excluded_names(model))
            if name not in names
        ]
    if "history_exclude" in model.__dict__:
        inherited = set().union(*(entries.excluded_names(base) for base in model.__bases__ if hasattr(base, "_meta")))
        dropped = sorted(inherited - set(own))
        if dropped:
            errors.append(
                checks.Warning(
                    f"{model.__name__}.history_exclude leaves out {', '.join(map(repr, dropped))}, which a parent "
                    "class excludes; they stay excluded.",
                    hint="List the parent's names too, e.g. history_exclude = (*Parent.history_exclude, ...).",
                    obj=model,
                    id="core.W001",
                )
            )
    return errors


def _check_managers(model):
    from .querysets import TrackableQuerySet

    errors = [
        checks.Warning(
            f"{model._meta.label}.{manager.name} is not built on TrackableQuerySet: QuerySet.update() and the bulk "
            "methods through it would bypass the audit trail.",
            hint="Build custom managers with TrackableManager (or the TimestampedModel managers).",
            obj=model,
            id="core.W002",
        )
        for manager in model._meta.managers
        if not isinstance(manager.get_queryset(), TrackableQuerySet)
    ]
    if model._base_manager.get_queryset().query.where:
        errors.append(filtering_manager_warning(model, "base", model._base_manager))
    return errors


def filtering_manager_warning(model: type[models.Model], role: str, manager: models.Manager) -> checks.Warning:
    """Django's default and base managers must see every row: its machinery reads through them."""
    return checks.Warning(
        f"{model._meta.label}'s {role} manager ({manager.name}) filters rows: Django's validation, "
        "forms, serializers, dumpdata, admin and cascades use it and would miss the rows it hides.",
        hint='For soft delete, keep Meta.default_manager_name = "all_objects" (inherit the base Meta).',
        obj=model,
        id="core.W003",
    )
