"""The admin of the task system: Task with its filters (status, with "Processing, lease expired"; served by no
worker) and the actions that run its transitions; the results of @task functions (status, attempts, errors, return
value) with a retry action; the periodic schedules with their next run.

Importing this module registers the three; apps.core.admin, which Django's admin autodiscovery imports, does so and
re-exports them (`from apps.core.admin import TaskAdmin` keeps working)."""

import copy
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .exceptions import InvalidTransition, LeaseLost
from .framework import TaskResultStatus
from .ingestors import registered_ingestors
from .models import PeriodicRun, Task, TaskResultRecord
from .schedules import registered_schedules

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["PeriodicRunAdmin", "TaskAdmin", "TaskResultAdmin", "TaskStatusFilter", "UnservedIngestorFilter"]

Status = Task.Status
ResultStatus = TaskResultStatus

# Names listed in one refusal line before "and N more".
LISTED_NAMES = 10


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


class TaskStatusFilter(admin.SimpleListFilter):
    """Status, with "Processing, lease expired" (its worker died: it will be claimed again or failed) and without
    "Processed", which nothing can match: the worker deletes a task as it completes it."""

    title = _("status")
    parameter_name = "status"
    LEASE_EXPIRED = "lease_expired"

    def lookups(self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]") -> list[tuple[str, "StrOrPromise"]]:
        return [
            (Status.PENDING, Status.PENDING.label),
            (Status.PROCESSING, Status.PROCESSING.label),
            (self.LEASE_EXPIRED, _("Processing, lease expired")),
            (Status.FAILED, Status.FAILED.label),
        ]

    def queryset(self, request: HttpRequest, queryset: "QuerySet[Any]") -> "QuerySet[Any] | None":
        if self.value() == self.LEASE_EXPIRED:
            return queryset.filter(status=Status.PROCESSING, lease_expires_at__lt=timezone.now())
        if self.value() in {Status.PENDING, Status.PROCESSING, Status.FAILED}:
            return queryset.filter(status=self.value())
        return None


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Tasks move only through their transitions: `status` and the worker's fields are read-only on the form, and
    the actions run `start_processing`, `complete_processing`, `fail_processing` and `requeue` on each selected
    task, reporting what moved and, one line per reason, what could not. Each move is logged like the admin's own
    changes. Subclass it to register a `Task` subclass."""

    list_display: tuple[str, ...] = ("name", "task_ingestor", "status", "attempts", "worker", "datetime")
    list_filter = (TaskStatusFilter, UnservedIngestorFilter, "task_ingestor")
    search_fields = ("name", "task_ingestor")
    date_hierarchy = "datetime"
    ordering = ("-datetime", "-pk")
    readonly_fields = (
        "status",
        "datetime",
        "started_at",
        "lease_expires_at",
        "attempts",
        "worker",
        "error",
        # Set by Django's Tasks framework for @task functions (apps.core.tasks.backend), and by retries.
        "queue_name",
        "priority",
        "run_after",
    )
    actions = ["start_processing", "complete_processing", "fail_processing", "requeue"]

    @admin.display(description=_("last error"))
    def error(self, task: Task) -> str:
        return format_html("<pre>{}</pre>", task.last_error) if task.last_error else "-"

    @admin.action(description=_("Start processing the selected tasks"), permissions=["change"])
    def start_processing(self, request: HttpRequest, queryset: "QuerySet[Task]") -> None:
        self._run_transition(request, queryset, "start_processing", Status.PENDING, Status.PROCESSING)

    @admin.action(description=_("Complete the selected tasks (they are then deleted)"), permissions=["change"])
    def complete_processing(self, request: HttpRequest, queryset: "QuerySet[Task]") -> None:
        if not self.has_delete_permission(request):
            self.message_user(
                request,
                _(
                    "Completing a task deletes it, and you do not have permission to delete tasks. Nothing was changed."
                ),
                messages.ERROR,
            )
            return
        self._run_transition(request, queryset, "complete_processing", Status.PROCESSING, Status.PROCESSED)

    @admin.action(description=_("Mark the selected tasks as failed"), permissions=["change"])
    def fail_processing(self, request: HttpRequest, queryset: "QuerySet[Task]") -> None:
        reason = gettext("Marked as failed in the admin by %(user)s.") % {"user": request.user.get_username()}
        self._run_transition(
            request, queryset, "fail_processing", Status.PROCESSING, Status.FAILED, kwargs={"error": reason}
        )

    @admin.action(description=_("Requeue the selected failed tasks"), permissions=["change"])
    def requeue(self, request: HttpRequest, queryset: "QuerySet[Task]") -> None:
        self._run_transition(request, queryset, "requeue", Status.FAILED, Status.PENDING)

    def _run_transition(self, request, queryset, method, required, target, kwargs=None):
        """Run the transition on each task on its own, so that one task in the wrong status does not stop the others;
        log each move; report the moves in one message and the refusals in one line per reason."""
        moved: list[Task] = []
        refused: dict[str, list[str]] = {}
        for task in queryset.order_by("datetime", "pk"):
            before = copy.copy(task)  # completing deletes the task: keep what the log entry needs
            try:
                getattr(task, method)(**(kwargs or {}))
            except InvalidTransition as refusal:
                refused.setdefault(self._refusal_kind(refusal), []).append(task.name)
            else:
                moved.append(before)
        self._log_moves(request, moved, required, target)
        if moved or not refused:
            self.message_user(
                request,
                self._moved_message(len(moved), required, target),
                messages.SUCCESS if moved else messages.INFO,
            )
        for kind, names in refused.items():
            self.message_user(request, _refusal_line(kind, names), messages.WARNING)

    def _log_moves(self, request, tasks, required, target):
        if target == Status.PROCESSED:
            message = gettext("Completed (%(required)s to %(target)s), then deleted.")
            LogEntry.objects.log_actions(
                request.user.pk,
                tasks,
                DELETION,
                change_message=message % {"required": required.label, "target": target.label},
                single_object=len(tasks) == 1,
            )  # type: ignore[call-overload]  # django-stubs overloads take single_object as a literal
            return
        for task in tasks:
            message = gettext("Status changed from %(required)s to %(target)s.")
            self.log_change(request, task, message % {"required": required.label, "target": target.label})

    @staticmethod
    def _moved_message(count, required, target):
        if target == Status.PROCESSED:
            return ngettext(
                "%(count)d task completed and deleted.", "%(count)d tasks completed and deleted.", count
            ) % {"count": count}
        return ngettext(
            "%(count)d task moved from %(required)s to %(target)s.",
            "%(count)d tasks moved from %(required)s to %(target)s.",
            count,
        ) % {"count": count, "required": required.label, "target": target.label}

    @staticmethod
    def _refusal_kind(refusal):
        if isinstance(refusal, LeaseLost):
            return "lease lost"
        return "gone" if refusal.current is None else refusal.required


def _refusal_line(kind, names):
    """One message line for the tasks refused for the same kind of reason."""
    count = len(names)
    if kind == "gone":
        text = ngettext(
            "%(count)d task no longer exists: %(tasks)s", "%(count)d tasks no longer exist: %(tasks)s", count
        )
    elif kind == "lease lost":
        text = ngettext(
            "%(count)d task is now held by another attempt of a worker: %(tasks)s",
            "%(count)d tasks are now held by another attempt of a worker: %(tasks)s",
            count,
        )
    elif kind == Status.PENDING:
        text = ngettext(
            "%(count)d task was not pending: %(tasks)s", "%(count)d tasks were not pending: %(tasks)s", count
        )
    elif kind == Status.PROCESSING:
        text = ngettext(
            "%(count)d task was not processing: %(tasks)s", "%(count)d tasks were not processing: %(tasks)s", count
        )
    else:
        text = ngettext("%(count)d task had not failed: %(tasks)s", "%(count)d tasks had not failed: %(tasks)s", count)
    return text % {"count": count, "tasks": _listed(names)}


def _listed(names):
    shown = ", ".join(names[:LISTED_NAMES])
    if len(names) > LISTED_NAMES:
        rest = len(names) - LISTED_NAMES
        shown += ngettext(" and %(count)d more", " and %(count)d more", rest) % {"count": rest}
    return shown


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
