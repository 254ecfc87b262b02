"""The audit trail: everything that writes and reads the history of a TrackableModel.

- `fields`: HistoryField, whose `pre_save()` writes each save's entry (in the same statement as the save).
- `tracker`: what an instance remembers as stored (the snapshot its changes are compared with), moved forward only
  when a write commits.
- `entries`: which fields are tracked, the stored form of a value, and the entries themselves.
- `expressions`, `sql_entries`: the SQL that appends entries, per row or built by the database for a whole
  QuerySet.update().
- `querysets`: TrackableQuerySet and TrackableManager, so that update() and the bulk methods are audited too.
- `cascades`: entries for rows that on_delete changes (SET_NULL, SET_DEFAULT) when another row is deleted.
- `current_user`: the acting user (the request's, or one named with `acting_as`).
- `checks`: system checks for mistakes that would weaken the trail.
- `django_internals`: the one place that touches Django's private API, tested per supported version.

Where a history lives, and for how long:

- `archive`: ArchivedHistory, the one table for the history of rows deleted for real and for the oldest entries of
  long histories; `deletes` writes it in the deleting transaction; `sequence` reads archive and row as one
  (`MyModel.history_of(pk)`).
- `compression`: on PostgreSQL, the history's columns compressed with lz4 (set after each migrate).
- `retention`: the in-row limit (`history_row_limit`) and `prune_history`; `erasure`: `redact_history`;
  `recovery`: a deleted row created again from its record (the admin's recover).

Reading it:

- `reads`, `revert`: reading a history (`obj.history.as_of()`, `versions()`, `diff()`) and putting a row back
  (`revert_to()`).
- `feed`, `indexes`: who changed what (`changed_by()`, `activity()`) and the history's index on PostgreSQL.
- `context`: the request, task or command each entry was written in (its "ctx").

In the admin:

- `admin.trackable`: TrackableAdminMixin (importable from `apps.core.admin_mixins`), which puts on an audited
  model's admin the pages of `admin.history` (the history table, the full-history page with its filters, "Revert to
  before this change"; also the Activity page) and of `admin.deleted_rows` (the "Deleted rows", and recover).

This room imports nothing from `apps.core.softdelete` or `apps.core.tasks`: they build on it, never the reverse.

    from apps.core.audit import activity
    activity(user=alice, since=monday)[:50]
"""

from .feed import activity

__all__ = ["activity"]
