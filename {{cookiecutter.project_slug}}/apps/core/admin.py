"""The core app's admin, the module Django's admin autodiscovery imports: importing the task system's admin
(apps/core/tasks/admin.py) registers Task, the @task results and the periodic runs. The audited models' admin pages
are the mixins of apps.core.admin_mixins (over apps/core/audit/admin/), which each app's own admin uses."""

from .tasks.admin import (
    PeriodicRunAdmin,
    TaskAdmin,
    TaskResultAdmin,
    TaskStatusFilter,
    UnservedIngestorFilter,
)

__all__ = ["PeriodicRunAdmin", "TaskAdmin", "TaskResultAdmin", "TaskStatusFilter", "UnservedIngestorFilter"]
