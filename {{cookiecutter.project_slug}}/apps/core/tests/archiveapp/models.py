"""Audited models for the archive's tests: what is deleted, how, and what it takes with it."""

import uuid

from django.conf import settings
from django.db import models

from apps.core.models import TimestampedModel, TrackableModel


class Folder(models.Model):
    """Not audited: deleting it cascades to the notes in it."""

    name = models.CharField(max_length=50)

    def __str__(self):
        return self.name


class Note(TrackableModel):
    """An integer key; deleted with its folder or its owner."""

    title = models.CharField(max_length=100, unique=True)
    body = models.TextField(blank=True)
    secret = models.CharField(max_length=50, blank=True)
    folder = models.ForeignKey(Folder, null=True, blank=True, on_delete=models.CASCADE, related_name="notes")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="archive_notes"
    )

    def __str__(self):
        return f"note {self.title}"


class Ticket(TrackableModel):
    """A UUID key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    subject = models.CharField(max_length=100)


class Country(TrackableModel):
    """A string key."""

    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=100)


class Place(TrackableModel):
    name = models.CharField(max_length=100)


class Restaurant(Place):
    """A multi-table child: one archived record, under its own model."""

    serves_pizza = models.BooleanField(default=False)


class Author(TrackableModel):
    name = models.CharField(max_length=100)


class Book(TrackableModel):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=100)


class Chapter(TrackableModel):
    """CASCADE from its book, and so from the book's author."""

    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="chapters")
    number = models.IntegerField()


class Review(TrackableModel):
    """SET_NULL from its book: it stays, with an entry for the change."""

    book = models.ForeignKey(Book, null=True, on_delete=models.SET_NULL, related_name="reviews")
    text = models.CharField(max_length=100)


class Document(TimestampedModel):
    """Soft-deleted by delete(), archived by hard_delete()."""

    title = models.CharField(max_length=100)


class Gauge(TrackableModel):
    """A row updated often, with a small in-row limit."""

    history_row_limit = 10

    reading = models.IntegerField(default=0)


class Invoice(TrackableModel):
    """Fields of every type the database spells in their stored form (the archive's last values are built there)."""

    number = models.IntegerField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    due = models.DateField(null=True)
    sent_at = models.DateTimeField(null=True)
    paid = models.BooleanField(default=False)
    reference = models.UUIDField(null=True)
    data = models.JSONField(default=dict)
    author = models.ForeignKey(Author, null=True, on_delete=models.SET_NULL, related_name="+")


class Attachment(TrackableModel):
    """A field the database cannot spell (a file) and a tracked foreign key that cascades: its rows are read in
    Python when archived, without a __str__ of its own."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="attachments")
    upload = models.FileField(upload_to="attachments/", blank=True)
