"""The "ctx" of each entry: the request id of the request that made the change, the task (id and ingestor) the worker
was running, or the management command; absent when nothing is known."""

import sys

import pytest
from django.core.management import call_command
from django.test import override_settings

from apps.core.audit.context import change_context, command_context, current_context
from apps.core.ingestors import ingestor
from apps.core.models import Task
from apps.core.tasks import ingestors

from ..factories import DocumentFactory
from ..testapp.models import Document
from ..utils import stored_history

VIEWS = "apps.core.tests.testapp.urls"


@pytest.mark.django_db
def test_an_entry_written_outside_any_context_has_no_ctx():
    assert "ctx" not in stored_history(DocumentFactory.create())[0]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=VIEWS)
def test_a_request_records_its_request_id(client):
    client.post("/documents/", {"title": "web"}, headers={"x-request-id": "req-42.a"})

    assert stored_history(Document.objects.get())[0]["ctx"] == {"request_id": "req-42.a"}


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=VIEWS)
def test_a_request_id_that_would_not_be_logged_is_not_recorded(client):
    client.post("/documents/", {"title": "web"}, headers={"x-request-id": "bad id\nwith a line break"})
    client.post("/documents/", {"title": "web"})

    assert all("ctx" not in stored_history(document)[0] for document in Document.objects.all())


@pytest.mark.django_db
def test_change_context_blocks_nest_and_every_write_records_them():
    with change_context(job="nightly"):
        with change_context(step=2):
            DocumentFactory.create(title="a")
            Document.objects.update(views=3)
        assert current_context() == {"job": "nightly"}
    assert current_context() is None

    (entries,) = [stored_history(document) for document in Document.objects.all()]
    assert [entry["ctx"] for entry in entries] == [{"job": "nightly", "step": 2}] * 2


@pytest.mark.django_db
def test_a_management_command_is_named():
    with command_context(["manage.py", "loaddata", "fixture.json"]):
        DocumentFactory.create()
    with command_context(["manage.py", "--help"]):
        assert current_context() is None

    assert stored_history(Document.objects.get())[0]["ctx"] == {"command": "loaddata"}


def test_manage_py_runs_each_command_in_its_context(monkeypatch):
    seen = []
    monkeypatch.setattr(
        "django.core.management.execute_from_command_line", lambda argv: seen.append(current_context())
    )
    monkeypatch.setattr(sys, "argv", ["manage.py", "migrate", "--check"])
    import manage

    manage.main()

    assert seen == [{"command": "migrate"}]


@pytest.fixture
def registry():
    saved = dict(ingestors._registry)
    yield
    ingestors._registry.clear()
    ingestors._registry.update(saved)


@pytest.mark.django_db(transaction=True)
def test_a_task_run_by_the_worker_records_its_id_and_ingestor(registry):
    @ingestor("audit-context")
    def write_a_document(task):
        Document.objects.create(title=task.name)

    task = Task.objects.create(name="from a task", task_ingestor="audit-context")

    call_command("run_tasks", "--burst", "--ingestor", "audit-context", verbosity=0)

    ctx = stored_history(Document.objects.get(title="from a task"))[0]["ctx"]
    assert ctx == {"task_id": task.pk, "ingestor": "audit-context"}
