import pytest
from django.urls import reverse
from django.utils.html import escape

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_user_changelist_lists_users(admin_client, admin_user):
    response = admin_client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 200
    assert admin_user.get_username() in response.text


def test_a_user_can_be_added_through_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            User.USERNAME_FIELD: "new@example.com",
            "usable_password": "true",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.filter(**{User.USERNAME_FIELD: "new@example.com"}).exists()


def test_a_user_change_page_opens(admin_client, admin_user):
    response = admin_client.get(reverse("admin:accounts_user_change", args=[admin_user.pk]))
    assert response.status_code == 200


def test_the_admin_site_is_titled_with_the_project_name(admin_client, settings):
    response = admin_client.get(reverse("admin:index"))
    assert escape(settings.PROJECT_NAME) in response.text
