"""The worker as it runs in production: real `manage.py run_tasks` processes on the test database (a SQLite file, or
PostgreSQL), killed and signalled as a platform would. The ingestors are in workerapp/ingestors.py."""

import signal
import statistics
import time

import pytest
from django.db import connection

from apps.core.models import Task

from ..workerapp.models import Attempt, TaskRun
from ..workers import WorkerProcess, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

Status = Task.Status


@pytest.fixture
def start_worker():
    """Start run_tasks processes; any still running when the test ends is killed."""
    started = []

    def start(*arguments, **options):
        worker = WorkerProcess(*arguments, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def attempts_of(task):
    return list(Attempt.objects.filter(task_id=task.pk).order_by("id").values_list("attempt", "worker"))


def test_workers_run_each_of_500_tasks_exactly_once(start_worker):
    tasks = Task.objects.bulk_create(Task(name=f"import {n}", task_ingestor="record") for n in range(500))

    workers = [start_worker("--burst", "--concurrency", "2") for _ in range(3)]

    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0], [worker.output() for worker in workers]
    runs = list(TaskRun.objects.values_list("task_id", "attempt"))
    assert len(runs) == 500  # TaskRun.task_id is unique: a second run of a task would have failed it instead
    assert {task_id for task_id, _ in runs} == {task.pk for task in tasks}
    assert {attempt for _, attempt in runs} == {1}
    assert not Task.objects.exists()  # every task completed, hence deleted; none failed or left behind
    per_worker = sorted(TaskRun.objects.values_list("worker", flat=True).distinct())
    print(f"tasks per worker: {[TaskRun.objects.filter(worker=name).count() for name in per_worker]}")


def test_a_task_whose_worker_is_killed_runs_again_once_its_lease_expires(start_worker):
    task = Task.objects.create(name="60", task_ingestor="sleepy")  # sleeps 60 s on its first attempt
    doomed = start_worker("--ingestor", "sleepy", "--lease", "1.5")
    wait_for(lambda: attempts_of(task), what="the first attempt to start")

    doomed.send(signal.SIGKILL)
    assert doomed.wait() == -signal.SIGKILL
    assert Task.objects.get(pk=task.pk).status == Status.PROCESSING  # nobody is left to finish or fail it
    rescuer = start_worker("--ingestor", "sleepy", "--lease", "1.5")
    wait_for(lambda: not Task.objects.filter(pk=task.pk).exists(), what="the task to be completed by the rescuer")

    rescuer.send(signal.SIGTERM)
    assert rescuer.wait() == 0, rescuer.output()
    assert attempts_of(task) == [(1, f"{doomed.worker_id}"), (2, f"{rescuer.worker_id}")]
    assert "put back to pending" in rescuer.output()


def test_sigterm_lets_the_running_task_finish_claims_nothing_more_and_exits_0(start_worker):
    running = Task.objects.create(name="1.5", task_ingestor="sleepy")
    waiting = Task.objects.bulk_create(Task(name="0", task_ingestor="sleepy") for _ in range(2))
    worker = start_worker("--ingestor", "sleepy")
    wait_for(lambda: attempts_of(running), what="the first task to start")

    worker.send(signal.SIGTERM)

    assert worker.wait(timeout=20) == 0, worker.output()
    assert not Task.objects.filter(pk=running.pk).exists()  # it finished, and was completed
    assert list(Task.objects.order_by("pk").values_list("pk", "status", "attempts")) == [
        (task.pk, Status.PENDING, 0) for task in waiting
    ]
    assert Attempt.objects.count() == 1
    assert "SIGTERM: claiming no more tasks" in worker.output()


def test_a_second_signal_exits_at_once_with_a_non_zero_code(start_worker):
    task = Task.objects.create(name="60", task_ingestor="sleepy")
    worker = start_worker("--ingestor", "sleepy")
    wait_for(lambda: attempts_of(task), what="the task to start")

    worker.send(signal.SIGTERM)
    wait_for(lambda: "SIGTERM: claiming no more tasks" in worker.output(), what="the worker to take the first SIGTERM")
    worker.send(signal.SIGTERM)

    assert worker.wait(timeout=5) == 128 + signal.SIGTERM, worker.output()
    assert "SIGTERM again: exiting now" in worker.output()
    assert Task.objects.get(pk=task.pk).status == Status.PROCESSING  # left to its lease


def test_stop_timeout_leaves_a_task_to_its_lease_and_exits_0(start_worker):
    task = Task.objects.create(name="60", task_ingestor="sleepy")
    worker = start_worker("--ingestor", "sleepy", "--stop-timeout", "0.5")
    wait_for(lambda: attempts_of(task), what="the task to start")

    worker.send(signal.SIGINT)

    assert worker.wait(timeout=10) == 0, worker.output()
    assert f"still running after 0.5 s (--stop-timeout): {task.pk}" in worker.output()
    assert Task.objects.get(pk=task.pk).status == Status.PROCESSING


def test_a_failing_ingestor_fails_the_task_with_its_error_and_requeue_runs_it_again(start_worker):
    task = Task.objects.create(name="invoice batch 7", task_ingestor="flaky")  # raises the first time only

    assert start_worker("--burst").wait() == 0
    failed = Task.objects.get(pk=task.pk)
    assert (failed.status, failed.attempts) == (Status.FAILED, 1)
    assert "Traceback (most recent call last)" in failed.last_error
    assert "ValueError: cannot ingest 'invoice batch 7' yet" in failed.last_error

    failed.requeue()
    assert (failed.status, failed.attempts) == (Status.PENDING, 0)
    worker = start_worker("--burst")

    assert worker.wait() == 0, worker.output()
    assert not Task.objects.filter(pk=task.pk).exists()  # the second run succeeded: completed and deleted
    assert [attempt for attempt, _ in attempts_of(task)] == [1, 1]  # requeue gave it a fresh allowance
    assert f"Task {task.pk} completed in" in worker.output()


def test_the_start_worker_script_runs_the_worker_with_its_arguments(start_worker):
    task = Task.objects.create(name="via the script", task_ingestor="record")
    worker = start_worker("--burst", "--ingestor", "record", command=["scripts/start-worker"])

    assert worker.wait() == 0, worker.output()
    assert "serving record (" in worker.output()
    assert TaskRun.objects.get().task_id == task.pk


def create_one(name):
    return Task.objects.create(name=name, task_ingestor="stamp")


def bulk_create_one(name):
    (task,) = Task.objects.bulk_create([Task(name=name, task_ingestor="stamp")])
    return task


def insert_with_raw_sql(name):
    table = connection.ops.quote_name(Task._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, task_ingestor, datetime, status, attempts, worker, last_error) "  # noqa: S608
            "VALUES (%s, 'stamp', CURRENT_TIMESTAMP, 'pending', 0, '', '')",
            [name],
        )
    return Task.objects.get(name=name)


def requeue_a_failed_one(name):
    task = Task.objects.create(name=name, task_ingestor="stamp", status=Status.FAILED)
    task.requeue()
    return task


def test_wake_up_latency(start_worker, capsys):
    """PostgreSQL: LISTEN/NOTIFY, fed by a trigger, wakes the worker within 100 ms of the commit however the task
    became pending (and polling every 30 s could not explain it). SQLite: it polls, within --poll-interval."""
    postgres = connection.vendor == "postgresql"
    poll_interval = 30 if postgres else 0.1
    rounds = 20 if postgres else 8  # the goal is PostgreSQL's median of 20; SQLite shows that polling works
    worker = start_worker("--ingestor", "stamp", "--poll-interval", str(poll_interval))
    warm_up = create_one("warm-up")
    wait_for(lambda: attempts_of(warm_up), what="the worker to run its first task")

    latencies = []
    for number in range(rounds):
        make = (create_one, bulk_create_one, insert_with_raw_sql, requeue_a_failed_one)[number % 4]
        task = make(f"{make.__name__} {number}")
        committed = time.time()
        (started,) = wait_for(
            lambda task=task: Attempt.objects.filter(task_id=task.pk).values_list("started", flat=True),
            timeout=10,
            what=f"task {task.name!r} to start",
        )
        latencies.append(started - committed)
        time.sleep(0.05)

    median = statistics.median(latencies)
    with capsys.disabled():
        print(
            f"\nwake-up latency on {connection.vendor}: median {median * 1000:.1f} ms of {len(latencies)} "
            f"(max {max(latencies) * 1000:.1f} ms)"
        )
    worker.send(signal.SIGTERM)
    assert worker.wait() == 0, worker.output()
    if postgres:
        assert median < 0.1
    else:
        assert median < poll_interval + 0.1
