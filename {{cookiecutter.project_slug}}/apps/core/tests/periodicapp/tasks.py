"""A @periodic @task function due every second (croniter's sixth field is the seconds), and an ingestor's schedule."""

from apps.core.tasks import periodic
from apps.core.tasks.framework import task

from ..workerapp.tasks import record_run


@periodic("* * * * * *")
@task(takes_context=True)
def every_second(context):
    record_run("every second", context)


periodic("* * * * * *", ingestor="stamp")
