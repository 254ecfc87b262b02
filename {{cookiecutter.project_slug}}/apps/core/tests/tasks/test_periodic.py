"""Periodic schedules (apps/core/tasks/schedules.py): declaring them, their slots, one run per slot, and the choice
for missed slots (the latest runs once, the ones before it are skipped). test_task_functions_processes.py races
three worker processes on the same slots."""

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.core.models import Task
from apps.core.tasks import periodic
from apps.core.tasks.models import PeriodicRun, TaskResultRecord
from apps.core.tasks.schedules import Schedule, registered_schedules
from apps.core.tasks.worker.scheduler import Scheduler

from ..workerapp import tasks, tasks_with_options

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def at(year, month, day, hour=0, minute=0, second=0):
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_periodic_above_task_declares_the_schedule_and_returns_the_task(registry):
    declared = periodic("*/5 * * * *")(tasks.add)

    assert declared is tasks.add
    schedule = registered_schedules()["apps.core.tests.workerapp.tasks.add"]
    assert (schedule.cron, schedule.task, schedule.ingestor) == ("*/5 * * * *", tasks.add, None)


def test_periodic_for_an_ingestor(registry):
    schedule = periodic("0 3 * * *", ingestor="nightly")

    assert registered_schedules() == {"ingestor:nightly": schedule}
    assert schedule.target == "ingestor 'nightly'"


@pytest.mark.parametrize("cron", ["every minute", "61 * * * *", "* * *", "", None])
def test_a_bad_cron_expression_is_a_configuration_error(registry, cron):
    with pytest.raises(ImproperlyConfigured, match="is not a valid cron expression"):
        periodic(cron, ingestor="nightly")
    assert registered_schedules() == {}


def test_periodic_goes_above_task(registry):
    with pytest.raises(ImproperlyConfigured, match=r"@periodic\('\* \* \* \* \*'\) goes above @task"):
        periodic("* * * * *")(tasks.add.func)


def test_the_same_work_on_two_schedules_is_refused(registry):
    periodic("0 3 * * *", ingestor="nightly")

    with pytest.raises(ImproperlyConfigured, match="ingestor 'nightly' is scheduled twice: '0 3 \\* \\* \\*' and"):
        periodic("0 4 * * *", ingestor="nightly")


@pytest.mark.parametrize(
    ("now", "latest", "following"),
    [
        (at(2026, 5, 1, 10, 7, 30), at(2026, 5, 1, 10, 5), at(2026, 5, 1, 10, 10)),
        (at(2026, 5, 1, 10, 5), at(2026, 5, 1, 10, 5), at(2026, 5, 1, 10, 10)),  # a slot is its own latest
    ],
)
def test_slots(now, latest, following, settings):
    settings.TIME_ZONE = "UTC"
    schedule = Schedule("*/5 * * * *", ingestor="x")

    assert schedule.latest_slot(now) == latest
    assert schedule.next_slot(now) == following


def test_slots_are_read_in_the_projects_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"  # UTC+2 in May
    schedule = Schedule("0 3 * * *", ingestor="x")

    assert schedule.latest_slot(at(2026, 5, 1, 12, 0)) == at(2026, 5, 1, 1, 0)


def test_a_slot_is_run_once_however_often_it_is_tried(registry):
    schedule = periodic("0 3 * * *", ingestor="nightly")
    slot = at(2026, 5, 1, 3, 0)

    first = PeriodicRun.objects.run_once(schedule, slot, worker="a:1")
    second = PeriodicRun.objects.run_once(schedule, slot, worker="b:2")

    assert first is not None
    assert second is None
    queued = Task.objects.get()
    assert (queued.task_ingestor, queued.name, first.reference) == (
        "nightly",
        f"nightly at {slot.isoformat()}",
        str(queued.pk),
    )


def test_a_task_function_slot_enqueues_it_through_django_tasks(registry):
    periodic("* * * * *")(tasks_with_options.returns_a_set)

    run = PeriodicRun.objects.run_once(
        registered_schedules()["apps.core.tests.workerapp.tasks_with_options.returns_a_set"], at(2026, 5, 1)
    )

    record = TaskResultRecord.objects.get()
    assert run is not None
    assert (str(record.id), record.task_path) == (
        run.reference,
        "apps.core.tests.workerapp.tasks_with_options.returns_a_set",
    )


def test_after_a_downtime_only_the_latest_missed_slot_runs_once(registry, settings):
    settings.TIME_ZONE = "UTC"
    periodic("* * * * * */10", ingestor="often")  # every 10 seconds (croniter: seconds come sixth)
    scheduler = Scheduler(list(registered_schedules().values()), "default", "me:1")
    PeriodicRun.objects.create(schedule="ingestor:often", slot=timezone.now() - datetime.timedelta(hours=1))

    assert scheduler.run_due() == 1  # an hour of missed slots: one run, not 360
    assert scheduler.run_due() == 0  # the same slot again: nothing

    assert Task.objects.filter(task_ingestor="often").count() == 1
    latest = PeriodicRun.objects.latest_run(registered_schedules()["ingestor:often"])
    assert latest is not None
    assert timezone.now() - latest.slot < datetime.timedelta(seconds=10)
    seconds = scheduler.seconds_to_next()
    assert seconds is not None
    assert 0 < seconds <= 10
