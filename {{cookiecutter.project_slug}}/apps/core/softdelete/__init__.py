"""Soft delete for TimestampedModel: rows marked with `date_deleted` rather than removed.

- `managers`: `objects` (rows not deleted), `all_objects` (every row; Django's default and base manager, so its own
  machinery sees soft-deleted rows), and QuerySet.delete()/restore()/hard_delete().
- `cascade`: the soft delete and restore of a row and of the timestamped children reached through CASCADE foreign
  keys (PROTECT and RESTRICT refuse as for a real delete), each with its history entry.
- `fields`: DeletionDateField, `date_deleted`, which a plain save() writes only when the instance changed it.
- `checks`: the default manager must not hide deleted rows from Django.
- `admin`: TimestampedAdminMixin (TrackableAdminMixin plus a "deleted" filter, restore, and a delete confirmation
  that lists what will be marked deleted) and DeletedListFilter, importable from `apps.core.admin_mixins`.

It builds on `apps.core.audit` (entries, the snapshot, the acting user); nothing in `audit` imports from here.
"""
