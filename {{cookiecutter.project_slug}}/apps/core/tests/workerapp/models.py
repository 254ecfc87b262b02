"""What the test ingestors write, committed as they run, so that a test can see every run of every task."""

from django.conf import settings
from django.db import models

from apps.core.models import Task


class TaskRun(models.Model):
    """One row per run of the "record" ingestor. The unique task_id makes a second run of a task fail loudly."""

    task_id = models.BigIntegerField(unique=True)
    attempt = models.PositiveIntegerField()
    worker = models.CharField(max_length=255)

    def __str__(self):
        return f"run of task {self.task_id}"


class Attempt(models.Model):
    """One row per run of the other ingestors: which task, which attempt, which worker, and when it started."""

    task_id = models.BigIntegerField()
    attempt = models.PositiveIntegerField()
    worker = models.CharField(max_length=255)
    started = models.FloatField(help_text="time.time() when the ingestor started")
    acting_user_id = models.BigIntegerField(null=True)

    def __str__(self):
        return f"attempt {self.attempt} of task {self.task_id}"


class UserTask(Task):
    """A task that names the user its ingestor acts as (see Worker: `acting_user`)."""

    acting_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")


class FunctionRun(models.Model):
    """One row per run of a @task function of workerapp/tasks.py: which key, which attempt, which worker, when."""

    key = models.CharField(max_length=255)
    attempt = models.PositiveIntegerField()
    worker = models.CharField(max_length=255, blank=True)
    started = models.FloatField(help_text="time.time() when the function started")

    def __str__(self):
        return f"run {self.attempt} of {self.key}"
