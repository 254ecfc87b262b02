"""@task functions in real `manage.py run_tasks` processes: a worker SIGKILLed at every step of a run leaves the task
to its lease and the next worker finishes it, its result written once; periodic slots enqueued once each by three
workers racing; the command's options and messages. The functions are in workerapp/tasks.py."""

import itertools
import signal
import uuid

import pytest
from django.db.models import Count

from apps.core.models import Task
from apps.core.tasks.framework import TaskResultStatus
from apps.core.tasks.models import PeriodicRun, TaskResultRecord

from ..workerapp import tasks, tasks_with_options
from ..workerapp.models import Attempt, FunctionRun
from ..workers import WorkerProcess, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

Status = TaskResultStatus
LEASE = "1"


@pytest.fixture
def start_worker():
    started = []

    def start(*arguments, **options):
        started.append(WorkerProcess(*arguments, **options))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def finished(result):
    return tasks.probe.get_backend().get_result(result.id).is_finished


@pytest.mark.parametrize(
    ("step", "function", "arguments"),
    [
        ("claimed", tasks.probe, ("claimed",)),  # killed after the claim, before the run
        ("running", tasks.kills_its_worker, ("running",)),  # killed during the run
        ("finishing", tasks.probe, ("finishing",)),  # killed after the run, its outcome written but not committed
    ],
)
def test_a_worker_killed_at_any_step_leaves_the_task_to_its_lease_and_the_result_is_written_once(
    start_worker, step, function, arguments
):
    result = function.enqueue(*arguments)
    doomed = start_worker("--lease", LEASE, env={"TEST_WORKER_KILL_AT": step} if step != "running" else None)

    assert doomed.wait() == -signal.SIGKILL, doomed.output()
    assert Task.objects.get().status == "processing"  # nobody is left to finish it
    assert TaskResultRecord.objects.get().status != Status.SUCCESSFUL
    rescuer = start_worker("--lease", LEASE)
    wait_for(lambda: finished(result), what="the rescuer to finish the task")
    rescuer.send(signal.SIGTERM)
    assert rescuer.wait() == 0, rescuer.output()

    read = function.get_result(result.id)
    assert read.status == Status.SUCCESSFUL
    assert not Task.objects.exists()
    assert read.worker_ids[-1] == rescuer.worker_id
    # The killed attempt counts: it was recorded with its claim, in the same transaction.
    assert read.worker_ids == [doomed.worker_id, rescuer.worker_id]
    runs = list(FunctionRun.objects.order_by("id").values_list("worker", flat=True))
    assert runs == ([rescuer.worker_id] if step == "claimed" else [doomed.worker_id, rescuer.worker_id])
    assert "put back to pending" in rescuer.output()


def test_three_workers_racing_enqueue_each_periodic_slot_once(start_worker):
    periodic_apps = {"TEST_WORKER_EXTRA_APPS": "apps.core.tests.periodicapp"}
    workers = [start_worker("--queue", "default", "--ingestor", "stamp", env=periodic_apps) for _ in range(3)]
    bystander = start_worker("--queue", "default", "--no-scheduler", env=periodic_apps)
    workers.append(bystander)
    for worker in workers:  # a signal that comes before the worker is up ends it, as it ends any process
        wait_for(worker.ready, timeout=30, what="the worker to start serving")
    wait_for(lambda: PeriodicRun.objects.values("slot").distinct().count() >= 3, timeout=30, what="three slots")
    for worker in workers:
        worker.send(signal.SIGTERM)
    for worker in workers:
        assert worker.wait() == 0, worker.output()

    runs = PeriodicRun.objects.all()
    per_slot = runs.values("schedule", "slot").annotate(count=Count("pk")).values_list("count", flat=True)
    assert set(per_slot) == {1}
    task_runs = runs.filter(schedule="apps.core.tests.periodicapp.tasks.every_second")
    ingestor_runs = runs.filter(schedule="ingestor:stamp")
    assert task_runs.count() >= 3
    assert ingestor_runs.count() >= 3
    # Every recorded slot enqueued exactly one piece of work, and nothing else was enqueued.
    assert TaskResultRecord.objects.count() == task_runs.count()
    assert set(TaskResultRecord.objects.values_list("id", flat=True)) == {
        uuid.UUID(reference) for reference in task_runs.values_list("reference", flat=True)
    }
    assert Task.objects.filter(task_ingestor="stamp").count() + Attempt.objects.count() == ingestor_runs.count()
    slots = sorted(task_runs.values_list("slot", flat=True))
    assert all((later - earlier).total_seconds() == 1 for earlier, later in itertools.pairwise(slots))
    enqueuers = set(runs.values_list("worker", flat=True))
    assert bystander.worker_id not in enqueuers  # --no-scheduler: it ran tasks, and scheduled none
    print(f"\n{runs.count()} slots enqueued by {len(enqueuers)} of 3 racing workers")


def test_verbosity_0_prints_nothing_but_errors(start_worker):
    tasks.add.enqueue(1, 2)
    tasks.fails_until.enqueue("quiet", succeeds_on=2)  # fails once: a warning, retried later
    tasks_with_options.returns_a_set.enqueue()  # fails for good: an error

    worker = start_worker("--burst", "-v", "0")

    assert worker.wait() == 0
    lines = worker.output().strip().splitlines()
    assert lines, "the failure should have been reported"
    records = [line for line in lines if line[:4].isdigit()]  # log records start with their date
    assert records, lines
    assert all(" ERROR " in line for line in records), lines
    assert any("returns_a_set" in line for line in records)
    assert not any("Worker " in line or "quiet" in line for line in lines)


def test_a_worker_warns_at_start_about_pending_tasks_no_worker_serves(start_worker):
    Task.objects.create(name="orphan", task_ingestor="nobody")
    Task.objects.create(name="orphan 2", task_ingestor="nobody")

    worker = start_worker("--burst")

    assert worker.wait() == 0
    assert "Pending tasks of ingestors no worker serves (none is registered under these names): 'nobody' (2)." in (
        worker.output()
    )


def test_an_unknown_queue_is_refused_with_exit_code_2(start_worker):
    worker = start_worker("--queue", "reports")

    assert worker.wait() == 2
    assert (
        worker.output().strip()
        == "CommandError: No task backend accepts the queue 'reports' (TASKS' QUEUES: default)."
    )


def test_a_worker_given_queues_serves_their_functions_and_no_ingestor(start_worker):
    result = tasks.add.enqueue(20, 22)
    ingested = Task.objects.create(name="left alone", task_ingestor="record")

    worker = start_worker("--burst", "--queue", "default")

    assert worker.wait() == 0, worker.output()
    assert "serving @task functions of queue default (" in worker.output()
    assert tasks.add.get_result(result.id).return_value == 42
    assert Task.objects.get().pk == ingested.pk
