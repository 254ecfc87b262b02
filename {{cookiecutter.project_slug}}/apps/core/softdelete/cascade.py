"""Soft delete of TimestampedModel rows, with the cascade a real delete would have.

Deleting a row marks it deleted (`date_deleted`) and, level by level, its timestamped children reached through
`on_delete=CASCADE` foreign keys, each with a "delete" entry whose "cause" names the row that was deleted. Children
that are not timestamped are left in place, and so is everything below them. PROTECT and RESTRICT refuse a soft
delete exactly as they would refuse a real one: Django's own Collector is asked first.

Every row of one deletion shares one `date_deleted`: that is how `restore()` finds exactly the children that
deletion cascaded to, and not those deleted earlier on their own. Marking is a compare-and-set on
`date_deleted IS NULL` under a row lock, so a row another process deleted meanwhile keeps its first deletion.
"""

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import models, transaction
from django.db.models.deletion import CASCADE, Collector
from django.utils import timezone

from ..audit import entries, tracker
from ..audit.current_user import get_current_user
from ..audit.expressions import append_entries


def delete(instance: Any, using: str) -> tuple[int, dict[str, int]]:
    """Soft-delete one row and its cascade (TimestampedModel.delete)."""
    model = type(instance)
    now, user = timezone.now(), get_current_user()
    rows = model._base_manager.db_manager(using).filter(pk=instance.pk)
    counts = _delete(rows, now, user)
    if counts[0]:
        _written_on(instance, now, now, user, using)
    else:
        # Deleted elsewhere already (that first deletion stands) or gone: nothing was changed here.
        stored = list(rows.values_list("date_deleted", flat=True))
        if stored:
            instance.date_deleted = stored[0]
    return counts


def delete_rows(queryset: models.QuerySet[Any]) -> tuple[int, dict[str, int]]:
    """Soft-delete the rows of `queryset` and their cascade (TimestampedQuerySet.delete)."""
    return _delete(queryset, timezone.now(), get_current_user())


def restore(instance: Any, using: str) -> int:
    """Restore one row and the children its deletion cascaded to (TimestampedModel.restore)."""
    model = type(instance)
    now, user = timezone.now(), get_current_user()
    restored = _restore(model._base_manager.db_manager(using).filter(pk=instance.pk), now, user)
    if restored:
        _written_on(instance, None, now, user, using)
    return restored


def restore_rows(queryset: models.QuerySet[Any]) -> int:
    """Restore the rows of `queryset` and their cascade (TimestampedQuerySet.restore)."""
    return _restore(queryset, timezone.now(), get_current_user())


def only_deleted_rows_clash(
    instance: models.Model, model_class: type[models.Model], unique_check: Sequence[str]
) -> bool:
    """Whether the rows holding `instance`'s values for `unique_check` are all soft-deleted."""
    if not hasattr(model_class, "all_objects"):
        return False
    lookup: dict[str, Any] = {}
    for name in unique_check:
        field = cast(models.Field, model_class._meta.get_field(name))  # a unique check names concrete fields
        value = getattr(instance, field.attname)
        if value is None:
            return False
        lookup[field.name] = value
    rows = model_class._base_manager.filter(**lookup)
    if not instance._state.adding and instance.pk is not None:
        rows = rows.exclude(pk=instance.pk)
    return rows.exists() and not rows.filter(date_deleted__isnull=True).exists()


def preview(objs: Iterable[models.Model], using: str) -> list[Any]:
    """What deleting `objs` would mark deleted, nested as the admin lists it: [obj, [child, [grandchild]], ...]."""
    tree: list[Any] = []
    for obj in objs:
        tree.append(obj)
        children: list[Any] = []
        for link in _cascading_children(type(obj)):
            children.extend(preview(link.queryset(using, [obj.pk], date_deleted__isnull=True), using))
        if children:
            tree.append(children)
    return tree


def _delete(queryset: models.QuerySet[Any], now: datetime.datetime, user: Any) -> tuple[int, dict[str, int]]:
    """Mark the alive rows of `queryset` deleted, then their cascade. Returns (count, {label: count})."""
    model, using = queryset.model, queryset.db
    rows = model._base_manager.db_manager(using).filter(pk__in=queryset.values("pk"), date_deleted__isnull=True)
    # Refused before anything is written, outside any transaction of ours, as Model.delete() refuses.
    _refuse_protected(rows, using)
    counts: dict[str, int] = {}
    with transaction.atomic(using=using, savepoint=False):
        roots = list(rows.select_for_update().values_list("pk", flat=True))
        if not roots:
            return 0, {}
        # {model: {pk: (cause of this row's deletion, cause its children get)}}
        level = {model: {pk: (None, _cause(model, pk)) for pk in roots}}
        while level:
            following: dict[type[models.Model], dict[Any, tuple[Any, Any]]] = {}
            for current, causes in level.items():
                marked = _mark(current, using, causes, now, user)
                if marked:
                    counts[current._meta.label] = counts.get(current._meta.label, 0) + len(marked)
                for link in _cascading_children(current):
                    for child_pk, parent_pk in link.rows(using, marked, date_deleted__isnull=True):
                        cause = causes[parent_pk][1]
                        following.setdefault(link.model, {})[child_pk] = (cause, cause)
            level = following
    return sum(counts.values()), counts


def _restore(queryset: models.QuerySet[Any], now: datetime.datetime, user: Any) -> int:
    """Restore the deleted rows of `queryset`, then, under each, the children its deletion cascaded to (same
    `date_deleted`). Returns the number of rows restored."""
    model, using = queryset.model, queryset.db
    restored = 0
    with transaction.atomic(using=using, savepoint=False):
        rows = model._base_manager.db_manager(using).filter(pk__in=queryset.values("pk"), date_deleted__isnull=False)
        # {model: {pk: (date_deleted, cause of this row's restore, cause its children get)}}
        level = {
            model: {
                pk: (at, None, _cause(model, pk))
                for pk, at in rows.select_for_update().values_list("pk", "date_deleted")
            }
        }
        while level:
            following: dict[type[models.Model], dict[Any, tuple[Any, Any, Any]]] = {}
            for current, found in level.items():
                restored += _unmark(current, using, found, now, user)
                moments = {at for at, _cause, _children_cause in found.values()}
                for link in _cascading_children(current):
                    for child_pk, parent_pk, at in link.rows(
                        using, list(found), "date_deleted", date_deleted__in=moments
                    ):
                        parent_at, _own, cause = found[parent_pk]
                        if at == parent_at:
                            following.setdefault(link.model, {})[child_pk] = (at, cause, cause)
            level = following
    return restored


def _mark(model, using, causes, now, user):
    """Mark the still-alive rows among `causes` deleted, each with its "delete" entry; return their pks."""
    rows = model._base_manager.db_manager(using)
    alive = rows.filter(pk__in=list(causes), date_deleted__isnull=True).select_for_update()
    pks = list(alive.values_list("pk", flat=True))
    if pks:
        models.QuerySet.update(rows.filter(pk__in=pks), date_deleted=now, **model._update_stamps(now, user))
        change = {"date_deleted": {"old": None, "new": entries.to_json(now)}}
        by_row = {pk: entries.entry(entries.DELETE, change, user, now, cause=causes[pk][0]) for pk in pks}
        append_entries(model, using, by_row)
    return pks


def _unmark(model, using, found, now, user):
    """Restore the rows of `found`, each with its "restore" entry; return how many."""
    if not found:
        return 0
    rows = model._base_manager.db_manager(using)
    models.QuerySet.update(rows.filter(pk__in=list(found)), date_deleted=None, **model._update_stamps(now, user))
    by_row = {
        pk: entries.entry(
            entries.RESTORE, {"date_deleted": {"old": entries.to_json(at), "new": None}}, user, now, cause
        )
        for pk, (at, cause, _children_cause) in found.items()
    }
    append_entries(model, using, by_row)
    return len(found)


def _cascading_children(model, include_parents=True):
    """A link for each way a real delete of `model`'s rows cascades to a timestamped model: CASCADE foreign keys to
    `model` (or to the parents it inherits from: they share its row) or to one of its multi-table children (a row of
    `model` is also the row of its children: their own children go with it), and generic relations. Hidden
    relations (related_name="+") count, as they do for a real delete."""
    found = []
    for relation in _relations(model, include_parents):
        if relation.parent_link:
            found += _cascading_children(relation.related_model, include_parents=False)
        elif relation.on_delete is CASCADE and hasattr(relation.related_model, "all_objects"):
            found.append(_ForeignKeyLink(relation))
    for field in model._meta.private_fields:
        if hasattr(field, "bulk_related_objects") and hasattr(field.related_model, "all_objects"):
            found.append(_GenericLink(model, field))
    return found


def _relations(model, include_parents):
    """The reverse one-to-one and many-to-one relations to `model`, as Django's Collector considers them."""
    return [
        field
        for field in model._meta.get_fields(include_parents=include_parents, include_hidden=True)
        if field.auto_created and not field.concrete and (field.one_to_one or field.one_to_many)
    ]


class _ForeignKeyLink:
    """Children pointing at their parent through a foreign key."""

    def __init__(self, relation: Any) -> None:
        self.model = relation.related_model
        self.parent = f"{relation.field.name}__pk"

    def queryset(self, using: str, parent_pks: Sequence[Any], **conditions: Any) -> models.QuerySet[Any]:
        """Those parents' children meeting `conditions`."""
        return self.model._base_manager.db_manager(using).filter(**{f"{self.parent}__in": parent_pks}, **conditions)

    def rows(self, using: str, parent_pks: Sequence[Any], *fields: str, **conditions: Any) -> list[tuple[Any, ...]]:
        """[(child pk, parent pk, *fields)] of those parents' children meeting `conditions`, locked."""
        if not parent_pks:
            return []
        rows = self.queryset(using, parent_pks, **conditions).select_for_update()
        return list(rows.values_list("pk", self.parent, *fields))


class _GenericLink:
    """Children pointing at their parent through a content type and an object id (a GenericRelation)."""

    def __init__(self, parent_model: type[models.Model], relation: Any) -> None:
        self.model = relation.related_model
        self.parent_model = parent_model
        self.relation = relation

    def queryset(self, using: str, parent_pks: Sequence[Any], **conditions: Any) -> models.QuerySet[Any]:
        parents = [self.parent_model(pk=pk) for pk in parent_pks]
        return self.relation.bulk_related_objects(parents, using).filter(**conditions)

    def rows(self, using: str, parent_pks: Sequence[Any], *fields: str, **conditions: Any) -> list[tuple[Any, ...]]:
        if not parent_pks:
            return []
        found = self.queryset(using, parent_pks, **conditions).select_for_update()
        to_pk = self.parent_model._meta.pk.to_python
        rows = found.values_list("pk", self.relation.object_id_field_name, *fields)
        return [(pk, to_pk(parent), *rest) for pk, parent, *rest in rows]


def _refuse_protected(queryset, using):
    """Raise ProtectedError or RestrictedError where a real delete of these rows would."""
    Collector(using=using, origin=queryset).collect(queryset)


def _cause(model, pk):
    return {"model": model._meta.label_lower, "pk": entries.to_json(pk)}


def _written_on(instance, date_deleted, now, user, using):
    """What a delete or restore wrote to the row, on the instance too: its date_deleted and stamps, remembered as
    stored."""
    instance.date_deleted = date_deleted
    instance._stamp_update(now, user)
    written = [type(instance)._meta.get_field("date_deleted")]
    tracker.record_write(instance, tracker.snapshot(instance, written), replaces=False, using=using)
