"""Audited rows changed by the deletion of a row they point to.

Django applies `on_delete=SET_NULL` and `SET(value)` through QuerySet.update() on the related model's base
manager, which is audited like any update. It applies SET_DEFAULT, SET(callable) and custom handlers through its
lower-level UpdateQuery instead, and on Django 6.1 DB_SET_NULL and DB_SET_DEFAULT are left to the database: none of
those pass through the audit trail. For those foreign keys, the deleted row's `pre_delete` notes which tracked rows
point to it, and its `post_delete` (sent inside the same transaction, after Django has changed them) records an
"update" entry on each row whose value changed, and stamps it.
"""

import threading

from django.apps import apps
from django.db import models
from django.db.models import deletion
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone

from . import entries
from .current_user import get_current_user
from .expressions import append_entries

# Applied through QuerySet.update() (audited there), or not changing the row at all.
_AUDITED_ELSEWHERE = {
    deletion.CASCADE,
    deletion.PROTECT,
    deletion.RESTRICT,
    deletion.DO_NOTHING,
    getattr(deletion, "DB_CASCADE", deletion.CASCADE),
}

# {concrete target model: [(tracked model, foreign key)]}
_watched: dict[type[models.Model], list[tuple[type[models.Model], models.ForeignKey]]] = {}
_noted = threading.local()


def watch(trackable_model: type[models.Model]) -> None:
    """Connect the signals for every foreign key of the project's tracked models that needs them (at start-up;
    again whenever the set of installed apps changes, as it does in tests)."""
    _watched.clear()
    for model in apps.get_models():
        if not issubclass(model, trackable_model) or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey):  # a OneToOneField too
                on_delete = field.remote_field.on_delete
                if on_delete not in _AUDITED_ELSEWHERE and not getattr(on_delete, "lazy_sub_objs", False):
                    _watched.setdefault(_concrete(field.remote_field.model), []).append((model, field))
    for target in _watched:
        for sender in (target, *(m for m in apps.get_models() if m._meta.proxy and m._meta.concrete_model is target)):
            pre_delete.connect(_note, sender=sender, weak=False, dispatch_uid=f"audit-note-{sender._meta.label}")
            post_delete.connect(_record, sender=sender, weak=False, dispatch_uid=f"audit-record-{sender._meta.label}")


def _note(sender, instance, using, **kwargs):
    noted = _noted.__dict__.setdefault("rows", {})
    for model, field in _watched[_concrete(sender)]:
        target = getattr(instance, field.target_field.attname)
        rows = model._base_manager.db_manager(using).filter(**{field.attname: target}).values_list("pk", field.attname)
        before = {pk: [_form(field, value)] for pk, value in rows}
        if before:
            noted.setdefault(_key(sender, instance, using), []).append((model, field, before))


def _record(sender, instance, using, **kwargs):
    noted = _noted.__dict__.get("rows", {}).pop(_key(sender, instance, using), [])
    for model, field, before in noted:
        rows = model._base_manager.db_manager(using).filter(pk__in=list(before))
        after = {pk: [_form(field, value)] for pk, value in rows.values_list("pk", field.attname)}
        now, user = timezone.now(), get_current_user()
        by_row = entries.update_entries([field], before, after, entries.entry(entries.UPDATE, {}, user, now))
        if not by_row:
            continue
        models.QuerySet.update(rows.filter(pk__in=list(by_row)), **model._update_stamps(now, user))
        if field in entries.tracked_fields(model):
            append_entries(model, using, by_row)


def _concrete(model: type[models.Model]) -> type[models.Model]:
    """The model whose table holds the rows (`_meta.concrete_model`, which Django sets on every model class)."""
    return model._meta.concrete_model or model


def _form(field, value):
    return entries.stored_form(field, value)


def _key(sender, instance, using):
    return (using, sender._meta.concrete_model, instance.pk)
