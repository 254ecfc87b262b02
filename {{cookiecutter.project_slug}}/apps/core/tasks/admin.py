"""The admin of Django's Tasks framework side of the task system: the results of @task functions (status, attempts,
errors, return value) with a retry action, the periodic schedules with their next run, and the Task list's filter
for tasks no worker serves. Registered from apps.core.admin."""

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .framework import TaskResultStatus
from .ingestors import registered_ingestors
from .models import PeriodicRun, Task, TaskResultRecord
from .schedules import registered_schedules

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["PeriodicRunAdmin", "TaskResultAdmin", "UnservedIngestorFilter"]

ResultStatus = TaskResultStatus


class UnservedIngestorFilter(admin.SimpleListFilter):
    """Tasks of ingestors that are not registered: no worker running this code will ever claim them (the workers
    warn about the pending ones at start and every few minutes)."""

    title = _("served")
    parameter_name = "served"
    UNSERVED = "no"

    def lookups(
        self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]"
    ) -> Iterable[tuple[str, "StrOrPromise"]]:
        return [(self.UNSERVED, _("By no worker (ingestor not registered)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> QuerySet[Task] | None:
        if self.value() == self.UNSERVED:
            return queryset.filter(result__isnull=True).exclude(task_ingestor__in=list(registered_ingestors()))
        return None


# A result's status as it reads (TaskResultRecord.current_status), as a filter on rows.
CURRENT_STATUS = {
    ResultStatus.READY: Q(queued_task__status=Task.Status.PENDING),
    ResultStatus.RUNNING: Q(queued_task__status=Task.Status.PROCESSING),
    ResultStatus.FAILED: Q(queued_task__status=Task.Status.FAILED)
    | Q(queued_task__isnull=True, status=ResultStatus.FAILED),
    ResultStatus.SUCCESSFUL: Q(queued_task__isnull=True, status=ResultStatus.SUCCESSFUL),
}


class ResultStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]"
    ) -> Iterable[tuple[str, "StrOrPromise"]]:
        return ResultStatus.choices

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[TaskResultRecord]
    ) -> QuerySet[TaskResultRecord] | None:
        value = self.value()
        if value in ResultStatus.values:
            return queryset.filter(CURRENT_STATUS[ResultStatus(value)])
        return None


@admin.register(TaskResultRecord)
class TaskResultAdmin(admin.ModelAdmin):
    """What each enqueued @task function did: read-only; "Retry" puts failed ones back in their queue."""

    list_display = ("task_path", "result_status", "attempts", "queue_name", "enqueued_at", "finished_at")
    list_filter = (ResultStatusFilter, "queue_name", "task_path")
    search_fields = ("task_path", "=id")
    date_hierarchy = "enqueued_at"
    actions = ["retry"]
    fields = (
        "id",
        "task_path",
        "result_status",
        "queue_name",
        "priority",
        "backend",
        "arguments",
        "enqueued_at",
        "run_after",
        "started_at",
        "last_attempted_at",
        "finished_at",
        "attempts",
        "workers",
        "value",
        "error_list",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaskResultRecord]:
        return super().get_queryset(request).select_related("queued_task")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("status"))
    def result_status(self, record: TaskResultRecord) -> str:
        return ResultStatus(record.current_status).label

    @admin.display(description=_("attempts"))
    def attempts(self, record: TaskResultRecord) -> int:
        return record.attempts

    @admin.display(description=_("workers"))
    def workers(self, record: TaskResultRecord) -> str:
        return ", ".join(record.worker_ids) or "-"

    @admin.display(description=_("arguments"))
    def arguments(self, record: TaskResultRecord) -> str:
        return format_html("<pre>{}</pre>", json.dumps({"args": record.args, "kwargs": record.kwargs}, indent=2))

    @admin.display(description=_("return value"))
    def value(self, record: TaskResultRecord) -> str:
        if record.current_status != ResultStatus.SUCCESSFUL:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(record.return_value, indent=2))

    @admin.display(description=_("errors"))
    def error_list(self, record: TaskResultRecord) -> str:
        errors = record.current_errors()
        if not errors:
            return "-"
        return format_html_join(
            "",
            "<p>{}. <code>{}</code></p><pre>{}</pre>",
            ((number, error["exception_class_path"], error["traceback"]) for number, error in enumerate(errors, 1)),
        )

    @admin.action(description=_("Retry the selected failed tasks"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[TaskResultRecord]) -> None:
        """Put each failed result's task back to pending (Task.requeue: a fresh allowance of attempts, the errors
        so far kept); the others are left alone and named."""
        retried, refused = 0, []
        for record in queryset:
            queued = record.queued
            if queued is not None and queued.status == Task.Status.FAILED:
                queued.requeue()
                retried += 1
            else:
                refused.append(record.task_path)
        if retried or not refused:
            self.message_user(
                request,
                ngettext("%(count)d task put back in its queue.", "%(count)d tasks put back in their queues.", retried)
                % {"count": retried},
                messages.SUCCESS if retried else messages.INFO,
            )
        if refused:
            self.message_user(
                request,
                gettext("Only failed tasks still held by their task row can be retried; left alone: %(tasks)s")
                % {"tasks": ", ".join(refused)},
                messages.WARNING,
            )


@admin.register(PeriodicRun)
class PeriodicRunAdmin(admin.ModelAdmin):
    """The slots run so far, under the schedules declared in code with their next run (the changelist's head)."""

    list_display = ("schedule", "slot", "enqueued_at", "worker", "reference")
    list_filter = ("schedule",)
    date_hierarchy = "slot"
    change_list_template = "admin/core/periodicrun/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PeriodicRun | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        now = timezone.now()
        schedules = [
            {
                "target": schedule.target,
                "cron": schedule.cron,
                "next_run": schedule.next_slot(now),
                "last_run": getattr(PeriodicRun.objects.latest_run(schedule), "slot", None),
            }
            for schedule in sorted(registered_schedules().values(), key=lambda schedule: schedule.key)
        ]
        return super().changelist_view(request, {**(extra_context or {}), "schedules": schedules})
