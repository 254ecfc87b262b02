import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def credentials(name):
    return {User.USERNAME_FIELD: f"{name}@example.com", "password": "a-long-Passphrase-42"}


def test_the_custom_user_is_the_auth_user_model():
    assert settings.AUTH_USER_MODEL == "accounts.User"
    assert get_user_model() is User


def test_a_created_user_can_log_in(client, project_password_hashers):
    User.objects.create_user(**credentials("alice"))
    assert client.login(**credentials("alice"))


def test_a_superuser_is_staff_and_superuser():
    admin = User.objects.create_superuser(**credentials("root"))
    assert admin.is_staff
    assert admin.is_superuser


def test_createsuperuser_works_without_prompts(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-Passphrase-42")
    options = {User.USERNAME_FIELD: "ops@example.com", "email": "ops@example.com"}
    call_command("createsuperuser", interactive=False, verbosity=0, **options)
    assert User.objects.get(**{User.USERNAME_FIELD: "ops@example.com"}).is_superuser
{%- if cookiecutter.username_type == "email" %}


def test_users_sign_in_with_their_email_address():
    assert User.USERNAME_FIELD == "email"
    assert "username" not in {field.name for field in User._meta.get_fields()}
    assert User.REQUIRED_FIELDS == []


def test_the_email_address_is_unique():
    User.objects.create_user(email="same@example.com")
    with pytest.raises(IntegrityError):
        User.objects.create_user(email="same@example.com")


def test_a_user_needs_an_email_address():
    with pytest.raises(ValueError, match="e-mail address is required"):
        User.objects.create_user(email="")
{%- else %}


def test_users_sign_in_with_a_username():
    assert User.USERNAME_FIELD == "username"


def test_the_username_is_unique():
    User.objects.create_user(username="same")
    with pytest.raises(IntegrityError):
        User.objects.create_user(username="same")
{%- endif %}
