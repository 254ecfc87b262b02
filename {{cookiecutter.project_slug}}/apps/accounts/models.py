{%- if cookiecutter.username_type == "email" -%}
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import TrackableModel

from .managers import UserManager

__all__ = ["TrackableModel", "User"]


class User(AbstractUser):
    """The project's user: signs in with an e-mail address, which is unique and required; there is no username."""

    username = None
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined, unused-ignore]  # (5.2 stubs lack it)
        swappable = "AUTH_USER_MODEL"
{%- else -%}
from django.contrib.auth.models import AbstractUser

from apps.core.models import TrackableModel

__all__ = ["TrackableModel", "User"]


class User(AbstractUser):
    """The project's user. Defined from day one so fields can be added later without a painful migration."""

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined, unused-ignore]  # (5.2 stubs lack it)
        swappable = "AUTH_USER_MODEL"
{%- endif %}
