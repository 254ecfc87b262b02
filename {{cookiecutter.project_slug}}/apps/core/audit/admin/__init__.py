"""The admin's pages of the audit trail.

- `trackable`: TrackableAdminMixin (importable from apps.core.admin_mixins): the audit fields read-only and the
  history table on the change page, and the URLs of the pages below on each audited model's admin.
- `history`: the history table (each change as old -> new), the full-history page with its filters, "Revert to
  before this change", and the Activity page (`activity_view`, which config/urls.py routes to `<admin>/activity/`);
  ACTION_LABELS, what each action is called.
- `deleted_rows`: DeletedRowsAdminMixin, the model's "Deleted rows": rows deleted for real, read from the archive,
  and their recover.

Like the rest of the room, these import nothing from `apps.core.softdelete`, `apps.core.tasks` or the app's face;
the templates they render are the app's, under `apps/core/templates/admin/core/`.
"""
