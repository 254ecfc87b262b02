"""The path to a distributed engine, run for real: a baked project's own @task functions, unchanged, enqueued through
django-tasks-rq (the `rq` extra of the baked pyproject) by pointing TASKS at it in settings, run by a real RQ worker
process (`manage.py rqworker`) on the Redis server at 127.0.0.1:6379, and their results read back, for each Django
version. Without a reachable Redis the test is skipped with the reason, unless REQUIRE_REDIS=1 (as .ci/run sets),
which makes it fail instead."""

import json
import os
import shutil
import socket
import subprocess
import uuid

import pytest

from .baking import TOOL_FOLDERS, UV, python_for, shell_environment, uv_environment
from .conftest import DJANGO_VERSIONS

REDIS = ("127.0.0.1", 6379)
REQUIRE_REDIS = os.environ.get("REQUIRE_REDIS") == "1"
# The project's settings, moved to RQ: the only change a project makes (README: When one database is not enough).
# The test app holding the @task functions used below is installed as the project's tests install it.
RQ_SETTINGS = """
from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq", "django_tasks_rq", "apps.core.tests.workerapp"]
REDIS = {{"HOST": "{host}", "PORT": {port}, "DB": 0}}
RQ_QUEUES = {{"default": REDIS, "{queue}": REDIS}}
TASKS = {{"default": {{"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "{queue}"]}}}}
"""
ENQUEUE = """
import json
from apps.core.tests.workerapp.tasks import add, async_add
results = [add.using(queue_name="{queue}").enqueue(2, 3), async_add.using(queue_name="{queue}").enqueue(20, b=22)]
print(json.dumps([result.id for result in results]))
"""
READ = """
import json
from apps.core.tests.workerapp.tasks import add, async_add
results = [task.get_result(result_id) for task, result_id in zip([add, async_add], {ids!r})]
print(json.dumps([
    [str(result.status), result.return_value if result.is_finished else None, result.task.module_path]
    for result in results
]))
"""


def redis_problem():
    try:
        with socket.create_connection(REDIS, timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            if not connection.recv(64).startswith(b"+PONG"):
                return f"the server at {REDIS[0]}:{REDIS[1]} did not answer PING as Redis does"
    except OSError as error:
        return f"no Redis server is reachable at {REDIS[0]}:{REDIS[1]} ({error})"
    return None


@pytest.fixture(scope="module")
def redis():
    problem = redis_problem()
    if problem is not None:
        if REQUIRE_REDIS:
            pytest.fail(f"Redis is required here (REQUIRE_REDIS=1), but {problem}")
        pytest.skip(problem)


@pytest.fixture(params=DJANGO_VERSIONS, ids=[f"django{version}" for version in DJANGO_VERSIONS])
def project_with_rq(request, bakery, redis, tmp_path):
    """A copy of the default bake (on this Django version) installed with its dev and rq extras from its lock."""
    baked = bakery.bake(django_version=request.param)
    path = tmp_path / baked.path.name
    shutil.copytree(baked.path, path, ignore=shutil.ignore_patterns(*TOOL_FOLDERS))
    venv = tmp_path / "venv"
    done = subprocess.run(
        [UV, "sync", "--locked", "--extra", "dev", "--extra", "rq", "--quiet", "--python", python_for(baked)],
        cwd=path,
        env=uv_environment(UV_PROJECT_ENVIRONMENT=str(venv)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"uv sync --extra rq failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return path, venv


def manage(path, venv, *args, timeout=120):
    done = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", *args],
        cwd=path,
        env=shell_environment(DJANGO_SETTINGS_MODULE="config.settings_rq"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_the_projects_tasks_move_to_rq_by_settings_alone(project_with_rq):
    path, venv = project_with_rq
    queue = f"roundtrip-{uuid.uuid4().hex[:12]}"  # this run's own queue on the shared Redis server
    (path / "config" / "settings_rq.py").write_text(RQ_SETTINGS.format(queue=queue, host=REDIS[0], port=REDIS[1]))

    ids = json.loads(manage(path, venv, "shell", "-c", ENQUEUE.format(queue=queue)).strip().splitlines()[-1])
    before = json.loads(manage(path, venv, "shell", "-c", READ.format(ids=ids)).strip().splitlines()[-1])
    # A real RQ worker process of the project (django-rq's command), with the job class django-tasks-rq requires.
    worker = manage(path, venv, "rqworker", queue, "--burst", "--job-class", "django_tasks_rq.Job")
    after = json.loads(manage(path, venv, "shell", "-c", READ.format(ids=ids)).strip().splitlines()[-1])

    assert before == [
        ["READY", None, "apps.core.tests.workerapp.tasks.add"],
        ["READY", None, "apps.core.tests.workerapp.tasks.async_add"],
    ]
    assert after == [
        ["SUCCESSFUL", 5, "apps.core.tests.workerapp.tasks.add"],
        ["SUCCESSFUL", 42, "apps.core.tests.workerapp.tasks.async_add"],
    ], worker
