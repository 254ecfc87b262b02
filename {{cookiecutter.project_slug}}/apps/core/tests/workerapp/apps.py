import os
import signal

from django.apps import AppConfig


class WorkerAppConfig(AppConfig):
    """Ingestors, @task functions and the rows they write, for the worker's tests (installed only while the tests
    run, and in the worker processes those tests start: see worker_settings.py)."""

    name = "apps.core.tests.workerapp"
    label = "workerapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # A worker process started with TEST_WORKER_KILL_AT kills itself (SIGKILL) at that step of its first @task
        # run: "claimed" (claimed, not yet started), "finishing" (run, its outcome written but not committed).
        step = os.environ.get("TEST_WORKER_KILL_AT")
        if step:
            _kill_at(step)


def _kill_at(step):
    from apps.core.tasks.worker.jobs import FunctionJob

    method = {"claimed": "start", "finishing": "succeed"}[step]
    original = getattr(FunctionJob, method)

    def killing(job):
        if step == "finishing":
            original(job)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(FunctionJob, method, killing)
