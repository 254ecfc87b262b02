"""The worker's rules, run in this process (burst mode) for speed: what it claims, how it runs an ingestor, what it
does with the outcome, leases, logs, and the command's arguments. test_worker_processes.py runs it for real."""

import datetime
import logging
import signal
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.current_user import acting_as, get_current_user
from apps.core.ingestors import ingestor, registered_ingestors
from apps.core.models import Task
from apps.core.tasks.worker import Worker, loop
from apps.core.tasks.worker.slots import Slot

from ..factories import UserFactory
from ..workerapp.models import Attempt, UserTask
from ..workers import WorkerProcess, wait_for
from .conftest import discovered_ingestor_names

pytestmark = pytest.mark.django_db(transaction=True)

Status = Task.Status


def run_burst(*names, **options):
    """Run a burst worker serving `names` in this process until nothing is left; return (exit code, worker)."""
    registered = registered_ingestors()
    worker = Worker({name: registered[name] for name in names}, burst=True, poll_interval=0.05, **options)
    return worker.run(), worker


def test_the_command_serves_every_registered_ingestor_and_says_so():
    Task.objects.create(name="a", task_ingestor="record")
    Task.objects.create(name="b", task_ingestor="stamp")

    out = _call("run_tasks", "--burst")

    assert out.startswith("Worker ")
    assert (
        "serving as_user, flaky, record, sleepy, stamp and @task functions of every queue (concurrency 1, lease 300 s, "
        "max attempts 3, burst)."
    ) in out
    assert not Task.objects.exists()


def test_ready_is_called_once_sigterm_and_sigint_ask_the_worker_to_stop():
    """The command prints its "serving" line from `run(ready=...)`: a supervisor (or a test) that waits for that line
    may send SIGTERM at once and gets a graceful stop, never the default action that ends the process."""
    numbers = (signal.SIGTERM, signal.SIGINT)
    before = {number: signal.getsignal(number) for number in numbers}
    seen = []
    worker = Worker({"record": registered_ingestors()["record"]}, burst=True, poll_interval=0.05)

    assert worker.run(ready=lambda: seen.append({number: signal.getsignal(number) for number in numbers})) == 0

    assert len(seen) == 1
    assert all(seen[0][number] not in (before[number], signal.SIG_DFL, signal.SIG_IGN) for number in numbers)
    assert {number: signal.getsignal(number) for number in numbers} == before  # put back once the worker stops


def test_ingestor_narrows_what_the_worker_claims():
    Task.objects.create(name="a", task_ingestor="record")
    stamp = Task.objects.create(name="b", task_ingestor="stamp")

    out = _call("run_tasks", "--burst", "--ingestor", "stamp", "--ingestor", "flaky")

    assert "serving stamp, flaky (" in out
    assert list(Task.objects.values_list("task_ingestor", "status")) == [("record", "pending")]
    assert Attempt.objects.get().task_id == stamp.pk


def test_an_unregistered_ingestor_stops_the_command_with_exit_code_2():
    with pytest.raises(CommandError) as refused:
        _call("run_tasks", "--ingestor", "no-such-ingestor", "--ingestor", "record")

    assert refused.value.returncode == 2
    assert str(refused.value) == (
        "No ingestor is registered as 'no-such-ingestor' (registered: as_user, flaky, record, sleepy, stamp)."
    )


def test_an_unregistered_ingestor_is_one_sentence_on_stderr_and_exit_code_2():
    # A name no project registers: the worker process discovers the project's own ingestors too.
    process = WorkerProcess("--ingestor", "no-such-ingestor")
    try:
        assert process.wait() == 2
        registered = discovered_ingestor_names()
        assert process.output().strip().splitlines() == [
            f"CommandError: No ingestor is registered as 'no-such-ingestor' (registered: {registered})."
        ]
    finally:
        process.stop()


def test_a_database_not_yet_migrated_is_one_sentence_naming_the_command_to_run():
    table = Task._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} RENAME TO core_task_not_yet")
        with pytest.raises(CommandError) as refused:
            _call("run_tasks", "--burst")
        transaction.set_rollback(True)
    assert str(refused.value) == f"The database has no table {table}: run `python manage.py migrate` first."
    assert refused.value.returncode == 1
    assert table in connection.introspection.table_names()


def test_with_no_ingestor_registered_the_worker_serves_task_functions(registry):
    registry.clear()

    out = _call("run_tasks", "--burst")

    assert "serving @task functions of every queue (" in out
    with pytest.raises(CommandError, match=r"No ingestor is registered as 'record' \(registered: none\)\.") as refused:
        _call("run_tasks", "--burst", "--ingestor", "record")
    assert refused.value.returncode == 2


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--concurrency", "0", "must be at least 1, not 0"),
        ("--lease", "0", "must be more than 0, not 0"),
        ("--max-attempts", "0", "must be at least 1, not 0"),
        ("--stop-timeout", "-1", "must be at least 0, not -1"),
        ("--poll-interval", "soon", "'soon' is not a number"),
    ],
)
def test_bad_numbers_are_refused(option, value, message):
    with pytest.raises(CommandError, match=message):
        _call("run_tasks", option, value)


def test_a_task_of_an_unserved_ingestor_stays_pending():
    orphan = Task.objects.create(name="no one runs me", task_ingestor="nobody")
    Task.objects.create(name="a", task_ingestor="record")

    code, _worker = run_burst("record")

    assert code == 0
    orphan.refresh_from_db()
    assert (orphan.status, orphan.attempts) == (Status.PENDING, 0)


def test_the_ingestor_runs_outside_any_transaction_acting_as_nobody(registry):
    seen: dict[str, object] = {}

    @ingestor("probe")
    def probe(task):
        seen.update(atomic=connection.in_atomic_block, user=get_current_user(), status=task.status)

    Task.objects.create(name="probe", task_ingestor="probe")
    with acting_as(UserFactory.create()):  # whoever started the worker is not the one the task runs as
        assert run_burst("probe")[0] == 0

    assert seen == {"atomic": False, "user": None, "status": Status.PROCESSING}


def test_a_task_subclass_reaches_its_ingestor_as_itself_and_acts_as_its_user():
    user = UserFactory.create()
    task = UserTask.objects.create(name="as someone", task_ingestor="as_user", acting_user=user)

    assert run_burst("as_user")[0] == 0

    assert Attempt.objects.get(task_id=task.pk).acting_user_id == user.pk
    assert not Task.objects.exists()


def test_each_concurrent_task_runs_in_its_own_thread_with_its_own_connection(registry):
    together = threading.Barrier(3, timeout=10)
    seen = []

    @ingestor("together")
    def run_together(task):
        together.wait()  # passes only if three tasks run at the same time
        assert Task.objects.filter(pk=task.pk, status=Status.PROCESSING).exists()  # through this thread's connection
        seen.append((threading.current_thread().name, id(connection.connection)))

    Task.objects.bulk_create(Task(name=f"t{n}", task_ingestor="together") for n in range(3))

    assert run_burst("together", concurrency=3)[0] == 0

    assert len({thread for thread, _ in seen}) == len({connection_id for _, connection_id in seen}) == 3
    assert not Task.objects.exists()


def test_a_failing_ingestor_fails_the_task_and_logs_one_line(registry, caplog):
    @ingestor("broken")
    def broken(task):
        raise KeyError("customer 42")

    task = Task.objects.create(name="broken", task_ingestor="broken")
    with caplog.at_level(logging.INFO, logger="apps.core.tasks.worker"):
        assert run_burst("broken")[0] == 0

    task.refresh_from_db()
    assert (task.status, task.attempts) == (Status.FAILED, 1)
    assert 'raise KeyError("customer 42")' in task.last_error
    assert task.last_error.rstrip().endswith("KeyError: 'customer 42'")
    started, failed = [record for record in caplog.records if record.name == "apps.core.tasks.worker"]
    assert started.getMessage() == f"Task {task.pk} started (ingestor 'broken', attempt 1)"
    assert failed.levelname == "ERROR"
    assert failed.getMessage().startswith(f"Task {task.pk} failed in ")
    assert failed.getMessage().endswith("s (ingestor 'broken', attempt 1): KeyError: 'customer 42'")
    assert (failed.task_id, failed.ingestor, failed.attempt) == (task.pk, "broken", 1)
    assert failed.duration >= 0


def test_a_completed_task_logs_its_start_and_its_duration(caplog):
    task = Task.objects.create(name="a", task_ingestor="record")

    with caplog.at_level(logging.INFO, logger="apps.core.tasks.worker"):
        run_burst("record")

    messages = [record.getMessage() for record in caplog.records if record.name == "apps.core.tasks.worker"]
    assert messages[0] == f"Task {task.pk} started (ingestor 'record', attempt 1)"
    assert messages[1].startswith(f"Task {task.pk} completed in ")
    assert messages[1].endswith(" s (ingestor 'record', attempt 1)")
    assert len(messages) == 2


def test_a_worker_whose_lease_was_taken_over_leaves_the_task_alone(registry, caplog):
    @ingestor("overtaken")
    def overtaken(task):
        # While this runs, its lease expires and another worker claims the task (attempt 2).
        Task.objects.filter(pk=task.pk).update(worker="elsewhere:9", attempts=F("attempts") + 1)

    task = Task.objects.create(name="slow", task_ingestor="overtaken")
    with caplog.at_level(logging.INFO, logger="apps.core.tasks.worker"):
        assert run_burst("overtaken")[0] == 0

    task.refresh_from_db()
    assert (task.status, task.worker, task.attempts) == (Status.PROCESSING, "elsewhere:9", 2)
    assert "but lost its lease" in caplog.text
    assert "attempt 2 by worker elsewhere:9 does" in caplog.text


def expire(task, attempts):
    Task.objects.filter(pk=task.pk).update(
        status=Status.PROCESSING,
        worker="dead:1",
        attempts=attempts,
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1),
    )


def test_a_burst_worker_runs_a_task_whose_worker_died_again():
    task = Task.objects.create(name="orphaned", task_ingestor="stamp")
    expire(task, attempts=1)

    assert run_burst("stamp", max_attempts=3)[0] == 0

    assert list(Attempt.objects.values_list("task_id", "attempt")) == [(task.pk, 2)]
    assert not Task.objects.exists()


def test_a_task_whose_last_attempt_died_is_failed_and_says_why():
    task = Task.objects.create(name="cursed", task_ingestor="stamp")
    expire(task, attempts=2)

    assert run_burst("stamp", max_attempts=2)[0] == 0

    task.refresh_from_db()
    assert task.status == Status.FAILED
    assert task.last_error.startswith("Gave up after attempt 2 of 2: its lease expired while worker dead:1 was")
    assert not Attempt.objects.exists()


def test_the_worker_renews_the_leases_of_running_tasks(registry):
    leases: list[Any] = []

    def renewed_twice(pk):
        leases.append(Task.objects.values_list("lease_expires_at", flat=True).get(pk=pk))
        return len(set(leases)) == 3

    @ingestor("long")
    def long_task(task):
        # Runs until the worker's main thread has renewed its lease twice: about 2 s, longer on a loaded machine.
        wait_for(lambda: renewed_twice(task.pk), interval=0.05, what="two renewals of the lease")

    Task.objects.create(name="long", task_ingestor="long")

    assert run_burst("long", lease=3)[0] == 0  # renewed every second: it never expires while running

    assert len(set(leases)) == 3
    assert leases == sorted(leases)
    assert not Task.objects.exists()


def _call(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_an_unexpected_error_in_a_slot_stops_the_worker_with_exit_code_1(monkeypatch, caplog):
    Task.objects.create(name="a", task_ingestor="record")

    def broken_claim(self, *args, **kwargs):
        raise RuntimeError("a bug in the worker")

    monkeypatch.setattr(Slot, "claim", broken_claim)
    registered = registered_ingestors()
    worker = Worker({"record": registered["record"]}, poll_interval=0.05)

    assert worker.run() == 1  # not burst: without the crash it would serve forever
    assert "A task slot stopped on an unexpected error; stopping the worker." in caplog.text
    assert Task.objects.get().status == Status.PENDING


def test_the_warning_about_unserved_tasks_comes_back_every_few_minutes(monkeypatch, caplog):
    monkeypatch.setattr(loop, "UNSERVED_WARNING_INTERVAL", 0.2)  # 300 s in production
    Task.objects.create(name="orphan", task_ingestor="nobody")
    worker = Worker({"record": registered_ingestors()["record"]}, poll_interval=0.05)
    thread = threading.Thread(target=worker.run)

    with caplog.at_level(logging.WARNING, logger="apps.core.tasks.worker"):
        thread.start()
        try:
            wait_for(lambda: caplog.text.count("'nobody' (1)") >= 3, what="three warnings")
        finally:
            worker.stop()
            thread.join(timeout=30)

    assert "Pending tasks of ingestors no worker serves (none is registered under these names): 'nobody' (1)." in (
        caplog.text
    )
