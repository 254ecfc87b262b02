"""System checks for models built on the base models: the mistakes that would quietly weaken the audit trail."""

from django.core import checks

from . import history


def check_trackable_model(model):
    errors = _check_history_exclude(model)
    if not model._meta.abstract:
        errors += _check_managers(model)
    return errors


def _check_history_exclude(model):
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
    errors = []
    if not model._meta.abstract:
        names = {name for field in model._meta.concrete_fields for name in (field.name, field.attname)}
        errors += [
            checks.Error(
                f"{model.__name__}.history_exclude names {name!r}, which is not a field of {model._meta.label}.",
                obj=model,
                id="core.E002",
            )
            for name in sorted(history.excluded_names(model))
            if name not in names
        ]
    if "history_exclude" in model.__dict__:
        inherited = set().union(*(history.excluded_names(base) for base in model.__bases__ if hasattr(base, "_meta")))
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
    from .querysets import TimestampedQuerySet, TrackableQuerySet

    errors = []
    for role, manager in (("default", model._default_manager), ("base", model._base_manager)):
        queryset = manager.get_queryset()
        if not isinstance(queryset, TrackableQuerySet):
            errors.append(
                checks.Warning(
                    f"{model._meta.label}'s {role} manager ({manager.name}) is not built on TrackableQuerySet: "
                    "QuerySet.update() and the bulk methods through it would bypass the audit trail.",
                    hint="Build custom managers with TrackableManager (or the TimestampedModel managers).",
                    obj=model,
                    id="core.W002",
                )
            )
        elif queryset.query.where and (role == "base" or isinstance(queryset, TimestampedQuerySet)):
            errors.append(
                checks.Warning(
                    f"{model._meta.label}'s {role} manager ({manager.name}) filters rows: Django's validation, "
                    "forms, serializers, dumpdata, admin and cascades use it and would miss the rows it hides.",
                    hint='For soft delete, keep Meta.default_manager_name = "all_objects" (inherit the base Meta).',
                    obj=model,
                    id="core.W003",
                )
            )
    return errors
