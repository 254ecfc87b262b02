"""Who gets recorded: the request's user (sync and async views), a user named with acting_as, or nobody."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.auth.models import AnonymousUser
from django.test import AsyncClient, Client
from django.urls import reverse

from apps.core.current_user import acting_as, get_current_user
from apps.core.middleware import CurrentUserMiddleware

from ..factories import DocumentFactory, UserFactory
from ..testapp.models import Document
from ..utils import stored_history

pytestmark = pytest.mark.django_db

VIEWS = "apps.core.tests.testapp.urls"


def test_acting_as_attributes_creation_and_change(user, other_user):
    with acting_as(user):
        document = DocumentFactory.create()
    with acting_as(other_user):
        document.title = "changed"
        document.save()

    document.refresh_from_db()
    assert (document.created_by, document.updated_by) == (user, other_user)
    assert [(entry["by"], entry["by_name"]) for entry in document.history] == [
        (user.pk, user.get_username()),
        (other_user.pk, other_user.get_username()),
    ]


def test_acting_as_nests_and_restores_the_outer_user(user, other_user):
    with acting_as(user):
        with acting_as(other_user):
            assert get_current_user() == other_user
        assert get_current_user() == user
    assert get_current_user() is None


def test_acting_as_none_means_nobody_even_during_a_request(rf, user):
    request = rf.get("/")
    request.user = user

    def view(request):
        with acting_as(None):
            return get_current_user()

    assert CurrentUserMiddleware(view)(request) is None


def test_acting_as_wins_over_the_request_user(rf, user, other_user):
    request = rf.get("/")
    request.user = user

    def view(request):
        with acting_as(other_user):
            return get_current_user()

    assert CurrentUserMiddleware(view)(request) == other_user


def test_with_nobody_acting_the_audit_fields_are_null():
    document = DocumentFactory.create()
    document.title = "changed"
    document.save()

    document.refresh_from_db()
    assert (document.created_by, document.updated_by) == (None, None)
    assert all(entry["by"] is None and entry["by_name"] is None for entry in document.history)


def test_an_anonymous_user_counts_as_nobody(rf):
    request = rf.get("/")
    request.user = AnonymousUser()

    assert CurrentUserMiddleware(lambda request: get_current_user())(request) is None
    with acting_as(AnonymousUser()):
        assert get_current_user() is None


def test_deleting_a_user_keeps_the_rows_they_audited():
    author = UserFactory.create()
    author_pk, author_name = author.pk, author.get_username()
    with acting_as(author):
        document = DocumentFactory.create()
        document.title = "changed"
        document.save()

    author.delete()

    document = Document.objects.get(pk=document.pk)
    assert (document.created_by_id, document.updated_by_id) == (None, None)
    assert [(entry["by"], entry["by_name"]) for entry in document.history] == [(author_pk, author_name)] * 2


@pytest.mark.urls(VIEWS)
def test_a_request_records_the_logged_in_user(client, user):
    client.force_login(user)
    response = client.post(reverse("create-document"), {"title": "from a request"})

    document = Document.objects.get(pk=response.json()["id"])
    assert (document.created_by, document.updated_by) == (user, user)
    assert stored_history(document)[0]["by_name"] == user.get_username()


@pytest.mark.urls(VIEWS)
def test_an_anonymous_request_records_nobody(client):
    response = client.post(reverse("create-document"))

    document = Document.objects.get(pk=response.json()["id"])
    assert document.created_by is None
    assert stored_history(document)[0]["by"] is None


@pytest.mark.urls(VIEWS)
def test_authentication_done_inside_the_view_is_seen(client, user):
    response = client.post(reverse("create-document-with-token"), headers={"X-Test-User-Id": str(user.pk)})

    assert Document.objects.get(pk=response.json()["id"]).created_by == user


@pytest.mark.urls(VIEWS)
def test_an_async_view_records_the_logged_in_user(user):
    client = AsyncClient()
    client.force_login(user)

    response = async_to_sync(client.post)(reverse("acreate-documents"), {"title": "async"})

    assert response.status_code == 200
    documents = Document.objects.filter(pk__in=response.json()["ids"])
    assert [document.created_by for document in documents] == [user, user]


@pytest.mark.urls(VIEWS)
def test_concurrent_async_requests_each_record_their_own_user(user, other_user):
    clients = {}
    for name, who in (("first", user), ("second", other_user), ("anonymous", None)):
        clients[name] = AsyncClient()
        if who is not None:
            clients[name].force_login(who)

    async def send_all_at_once():
        return await asyncio.gather(
            *(client.post(reverse("acreate-documents"), {"title": name}) for name, client in clients.items())
        )

    responses = async_to_sync(send_all_at_once)()

    recorded = {
        name: {document.created_by for document in Document.objects.filter(pk__in=response.json()["ids"])}
        for name, response in zip(clients, responses, strict=True)
    }
    assert recorded["first"] == {user}
    assert recorded["second"] == {other_user}
    assert recorded["anonymous"] == {None}


@pytest.mark.urls(VIEWS)
def test_the_next_request_does_not_inherit_the_previous_user(user):
    logged_in, anonymous = Client(), Client()
    logged_in.force_login(user)

    first = logged_in.post(reverse("create-document")).json()["id"]
    second = anonymous.post(reverse("create-document")).json()["id"]

    assert Document.objects.get(pk=first).created_by == user
    assert Document.objects.get(pk=second).created_by is None
    assert get_current_user() is None


@pytest.mark.urls(VIEWS)
def test_a_failing_view_does_not_leave_its_user_behind(client, user):
    client.force_login(user)
    with pytest.raises(RuntimeError, match="The view failed"):
        client.get(reverse("fail"))

    assert get_current_user() is None


def test_a_reused_thread_does_not_keep_the_previous_requests_user(rf, user):
    request = rf.get("/")
    request.user = user
    middleware = CurrentUserMiddleware(lambda request: get_current_user())

    with ThreadPoolExecutor(max_workers=1) as pool:  # one thread, reused for both jobs
        assert pool.submit(middleware, request).result() == user
        assert pool.submit(get_current_user).result() is None


def test_the_async_middleware_resets_the_user_too(rf, user):
    request = rf.get("/")
    request.user = user

    async def view(request):
        return get_current_user()

    middleware = CurrentUserMiddleware(view)

    assert iscoroutinefunction(middleware)
    assert async_to_sync(middleware)(request) == user
    assert get_current_user() is None


def test_a_thread_started_during_a_request_does_not_see_its_user(rf, user):
    """Threads start with an empty context: work handed to one must name its user with acting_as."""
    seen = []

    def view(request):
        thread = threading.Thread(target=lambda: seen.append(get_current_user()))
        thread.start()
        thread.join()
        return get_current_user()

    request = rf.get("/")
    request.user = user
    assert CurrentUserMiddleware(view)(request) == user
    assert seen == [None]
