"""Models as a service would write them, one per behaviour under test. They exist only in the test database."""

import uuid

from django.db import models

from apps.core.models import Task, TimestampedModel, TrackableModel


class Category(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name


class Document(TrackableModel):
    """A tracked field of every kind whose history value needs care, and one secret kept out of the history."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    views = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    ref = models.UUIDField(default=uuid.uuid4)
    published_on = models.DateField(null=True, blank=True)
    publish_at = models.DateTimeField(null=True, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    attachment = models.FileField(upload_to="documents/", blank=True)
    data = models.JSONField(default=dict, blank=True)
    api_token = models.CharField(max_length=64, blank=True)

    history_exclude = ("api_token",)

    def __str__(self):
        return self.title


class Note(TimestampedModel):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)

    def __str__(self):
        return self.title


class MyTaskModel(Task):
    """The seed's example of a task subclass (multi-table inheritance)."""

    my_field = models.CharField(max_length=255)
