"""Run by test_uuid_user.py with uuiduser/settings.py: the audit trail with a user model keyed by UUID."""

import json
import uuid

import pytest
from django.contrib.auth import get_user_model

from apps.core.current_user import acting_as
from apps.core.tests.uuiduser.models import Ticket

pytestmark = pytest.mark.django_db


def test_every_write_records_the_uuid_user():
    user = get_user_model().objects.create(username="alice")
    assert isinstance(user.pk, uuid.UUID)
    with acting_as(user):
        ticket = Ticket.objects.create(title="a", owner=user)
        ticket.title = "b"
        ticket.save()
        Ticket.objects.filter(pk=ticket.pk).update(title="c")
        Ticket.objects.bulk_create([Ticket(title="d", owner=user)])
        ticket.delete()
        ticket.restore()

    history = Ticket.objects.get(pk=ticket.pk).history
    assert [entry["action"] for entry in history] == ["create", "update", "update", "delete", "restore"]
    assert {entry["by"] for entry in history} == {str(user.pk)}
    assert history[0]["changes"]["owner"] == {"old": None, "new": str(user.pk)}
    assert json.loads(json.dumps(history)) == history
    assert Ticket.objects.get(title="d").created_by == user


def test_deleting_the_user_keeps_the_rows_and_records_the_owner_change():
    user = get_user_model().objects.create(username="bob")
    with acting_as(user):
        ticket = Ticket.objects.create(title="a", owner=user)
    user_pk = str(user.pk)

    user.delete()

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.owner, ticket.created_by) == (None, None)
    assert ticket.history[0]["by"] == user_pk
    assert ticket.history[-1]["changes"] == {"owner": {"old": user_pk, "new": None}}
