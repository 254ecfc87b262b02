"""ModelAdmin mixins for models built on TrackableModel and TimestampedModel: the path your admin imports them from,
over the rooms that hold them.

    @admin.register(Invoice)
    class InvoiceAdmin(TimestampedAdminMixin, admin.ModelAdmin):
        list_display = ("number", "amount")

TrackableAdminMixin (apps/core/audit/admin/trackable.py) shows the audit fields read-only and the latest changes as
a table on the change page, with a link to the full history, page by page, and the change list's "Deleted rows".
Both read only the entries they show: the database cuts them out of the history, so a row with ten thousand changes
opens as fast as a row with ten.

TimestampedAdminMixin (which includes it; apps/core/softdelete/admin.py) lists soft-deleted rows behind a filter,
restores them with an action, and words deletion as what it is: the confirmation lists what will be marked deleted
(the row and its timestamped children) and says that it can be restored.
"""

from .audit.admin.history import ACTION_LABELS, HISTORY_VALUE_MAX_CHARS  # noqa: F401 - importable from here too
from .audit.admin.trackable import TrackableAdminMixin
from .softdelete.admin import DeletedListFilter, TimestampedAdminMixin

__all__ = ["DeletedListFilter", "TimestampedAdminMixin", "TrackableAdminMixin"]
