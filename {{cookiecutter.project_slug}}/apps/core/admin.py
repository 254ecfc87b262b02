from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import InvalidTransition, Task

__all__ = ["TaskAdmin"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Tasks move only through their transitions: `status` is read-only on the form, and the actions below run
    `start_processing`, `complete_processing` and `fail_processing` on each selected task, reporting which moved
    and, for those that could not, why. Subclass it to register a `Task` subclass."""

    list_display = ("name", "task_ingestor", "status", "datetime")
    list_filter = ("status", "task_ingestor")
    search_fields = ("name", "task_ingestor")
    date_hierarchy = "datetime"
    ordering = ("-datetime", "-pk")
    readonly_fields = ("status", "datetime")
    actions = ["start_processing", "complete_processing", "fail_processing"]

    @admin.action(description=_("Start processing the selected tasks"), permissions=["change"])
    def start_processing(self, request, queryset):
        self._run_transition(request, queryset, "start_processing", _("Started"))

    @admin.action(description=_("Complete the selected tasks (they are then deleted)"), permissions=["change"])
    def complete_processing(self, request, queryset):
        self._run_transition(request, queryset, "complete_processing", _("Completed (and deleted)"))

    @admin.action(description=_("Mark the selected tasks as failed"), permissions=["change"])
    def fail_processing(self, request, queryset):
        self._run_transition(request, queryset, "fail_processing", _("Marked as failed"))

    def _run_transition(self, request, queryset, method, done):
        """Run the transition on each task on its own, so one task in the wrong status does not stop the others."""
        moved, refused = 0, []
        for task in queryset.order_by("datetime", "pk"):
            try:
                getattr(task, method)()
            except InvalidTransition as error:
                refused.append(str(error))
            else:
                moved += 1
        if moved or not refused:
            self.message_user(
                request,
                ngettext("%(done)s %(count)d task.", "%(done)s %(count)d tasks.", moved)
                % {"done": done, "count": moved},
                messages.SUCCESS if moved else messages.WARNING,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d task could not move: %(reasons)s",
                    "%(count)d tasks could not move: %(reasons)s",
                    len(refused),
                )
                % {"count": len(refused), "reasons": " ".join(refused)},
                messages.WARNING,
            )
