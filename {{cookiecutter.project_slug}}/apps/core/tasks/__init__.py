"""The task system: the Task model and its status machine, claiming, the ingestor registry and the worker.

- `models.Task` (importable from `apps.core.models`): pending -> processing -> processed (then deleted) | failed,
  each transition one compare-and-set UPDATE; `exceptions` holds InvalidTransition and LeaseLost.
- `claiming.TaskQuerySet`: `Task.objects.claim()` (SKIP LOCKED on PostgreSQL), leases and their recovery.
- `ingestors`: `@ingestor("name")` registers the function that runs tasks of that `task_ingestor`.
- `worker`: what `manage.py run_tasks` runs (slots, the main loop, waking, stop signals).

It may use `apps.core.audit` (the acting user); the audit trail never imports from here.
"""
