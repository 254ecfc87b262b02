"""A project whose user model has a UUID primary key (settings.py beside this file), with one tracked model."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from apps.core.models import TimestampedModel


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)


class Ticket(TimestampedModel):
    title = models.CharField(max_length=100)
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")

    def __str__(self):
        return self.title
