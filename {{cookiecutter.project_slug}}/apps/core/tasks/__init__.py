"""The task system: the Task model and its status machine, claiming, the ingestor registry and the worker.

- `models.Task` (importable from `apps.core.models`): pending -> processing -> processed (then deleted) | failed,
  each transition one compare-and-set UPDATE; `exceptions` holds InvalidTransition and LeaseLost.
- `claiming.TaskQuerySet`: `Task.objects.claim()` (SKIP LOCKED on PostgreSQL), leases and their recovery.
- `ingestors`: `@ingestor("name")` registers the function that runs tasks of that `task_ingestor`.
- `backend.DatabaseBackend`: the backend of Django's Tasks framework over the same table (`results` keeps what a
  @task function returned or raised; `retries` the backoff; `framework` finds django.tasks or its 5.2 backport).
- `schedules`: `periodic("cron")`, schedules enqueued at most once per slot by the workers.
- `worker`: what `manage.py run_tasks` runs (slots, the main loop, waking, stop signals, the scheduler).
- `admin`: TaskAdmin (its transitions as actions, the status and unserved-ingestor filters), the @task results with
  their retry, the periodic runs under their schedules; registered by `apps.core.admin`, which re-exports them.

It may use `apps.core.audit` (the acting user); the audit trail never imports from here.
"""

from .schedules import periodic

__all__ = ["periodic"]
