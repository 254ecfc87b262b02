"""The task worker behind `python manage.py run_tasks`.

One worker process runs `concurrency` slot threads and a main thread:

- `slots.Slot`, one per thread with its own database connection, runs one task at a time: it claims the first
  ready task of the ingestors and queues served (`Task.objects.claim`, SKIP LOCKED on PostgreSQL), runs it through
  a job (`jobs.IngestorJob`: the ingestor gets the Task row; `jobs.FunctionJob`: a @task function of Django's Tasks
  framework, its arguments and result in a TaskResultRecord) outside any transaction, acting as nobody unless the
  task names an `acting_user`, then `complete_processing()`, `retry_later()` (apps.core.tasks.retries) or
  `fail_processing()` with the traceback, and claims its next task in the same transaction: one commit per task.
  The transitions compare the attempt, so a worker whose lease was taken over leaves the task to the attempt that
  holds it. With nothing to claim, a slot sleeps until woken, or until the first deferred task is due.
- `loop.Worker`, the main thread, renews the leases of the running tasks (every third of the lease), gives back the
  tasks of dead workers (`Task.objects.recover_expired`), and wakes the idle slots when there may be work:
  `waking.Waker` sleeps on a PostgreSQL NOTIFY (a trigger sends one whenever a task becomes pending, however it was
  written), on a finished task or on a signal. Without LISTEN/NOTIFY, idle slots look again every poll interval.
- `scheduler.Scheduler`, in the main thread, enqueues the slots of the periodic schedules as they come, at most
  once per slot across workers (apps.core.tasks.schedules).
- `stopping.StopSignals`: the first SIGTERM or SIGINT stops claiming and lets running tasks finish for up to
  `stop_timeout` seconds, then exit 0 (tasks still running are left to their leases); a second one exits at once
  (128 + the signal).

Threads rather than processes: ingestors mostly wait on the database, files and HTTP, where threads overlap as well
as processes do at a fraction of the memory; scale CPU-bound work with more worker processes (see the README).
"""

from .loop import Worker
from .waking import PENDING_CHANNEL

__all__ = ["PENDING_CHANNEL", "Worker"]
