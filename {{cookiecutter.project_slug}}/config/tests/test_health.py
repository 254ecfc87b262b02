"""GET /healthz: 200 when the database answers, 503 naming the failing check, for any host, over plain HTTP."""

import json

import pytest
from django.db import OperationalError
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_healthy_when_the_database_answers(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert reverse("healthz") == "/healthz"


def test_any_host_and_plain_http_get_an_answer_not_a_redirect(client, settings):
    """Load balancers probe by IP address over plain HTTP: no host check, no HTTPS redirect, no login."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["service.example.com"]
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert client.get("/", HTTP_HOST="service.example.com").status_code == 301  # everything else is redirected
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400  # and host-checked


def test_unavailable_with_the_failing_check_when_the_database_does_not_answer(client, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "error", "failing": {"database": "OperationalError"}}
    assert "Health check failed: the database did not answer (OperationalError: connection refused)" in caplog.text
