"""Models as a service would write them, one per behaviour under test. They exist only in the test database."""

import uuid
from typing import TYPE_CHECKING, ClassVar

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from model_utils import FieldTracker

from apps.core.models import Task, TimestampedModel, TrackableModel
from apps.core.querysets import AliveManager, TrackableManager


class Point:
    """A value object a custom field stores as "x,y". Its str() raises: the history must never rely on it."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __str__(self):
        raise RuntimeError("Point has no text form of its own.")


if TYPE_CHECKING:  # a CharField that takes and gives Points
    _PointFieldBase = models.CharField[Point | str | None, Point | None]
else:
    _PointFieldBase = models.CharField


class PointField(_PointFieldBase):
    """A custom field as teams write them: a Python object in memory, its own text form in the database."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 50)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, Point):
            return value
        x, y = value.split(",")
        return Point(int(x), int(y))

    def get_prep_value(self, value):
        value = self.to_python(value)
        return None if value is None else f"{value.x},{value.y}"


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


class Switch(TrackableModel):
    """Values whose stored form differs from their Python form in ways that must not hide, or invent, a change."""

    on = models.BooleanField(default=False)
    count = models.IntegerField(default=0)
    ratio = models.FloatField(null=True, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    where = PointField(null=True, blank=True)


class Coded(TrackableModel):
    """A natural (CharField) primary key."""

    code = models.CharField(max_length=20, primary_key=True)
    name = models.CharField(max_length=100)


def fallback_category():
    return Category.objects.get_or_create(name="Fallback")[0].pk


class Filing(TrackableModel):
    """Foreign keys whose on_delete changes this row when the category is deleted."""

    title = models.CharField(max_length=100)
    nullable = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    defaulted = models.ForeignKey(
        Category, null=True, blank=True, default=None, on_delete=models.SET_DEFAULT, related_name="+"
    )
    fallback = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET(fallback_category), related_name="+"
    )


class Memo(Document):
    """Multi-table inheritance: the history lives in the parent's table."""

    code = models.CharField(max_length=20, unique=True)


class Setting(TrackableModel):
    """A natural key, for upserts (bulk_create(update_conflicts=True))."""

    key = models.CharField(max_length=50, unique=True)
    value = models.CharField(max_length=200, blank=True)


class Folder(TimestampedModel):
    name = models.CharField(max_length=100)
    comments = GenericRelation("Comment")

    def __str__(self):
        return self.name


class Page(TimestampedModel):
    """A timestamped CASCADE child: soft-deleted with its folder, restored with it."""

    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="pages")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="subpages")
    title = models.CharField(max_length=100)

    def __str__(self):
        return self.title


class Scan(models.Model):
    """A plain CASCADE child: a soft delete leaves it in place."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="scans")

    def __str__(self):
        return f"scan of {self.page_id}"


class Retention(models.Model):
    """PROTECT: a folder under retention cannot be deleted, softly or not."""

    folder = models.ForeignKey(Folder, on_delete=models.PROTECT, related_name="retentions")

    def __str__(self):
        return f"retention of {self.folder_id}"


class Hold(models.Model):
    """RESTRICT: a folder on hold cannot be deleted on its own."""

    folder = models.ForeignKey(Folder, on_delete=models.RESTRICT, related_name="holds")

    def __str__(self):
        return f"hold on {self.folder_id}"


class Secret(TrackableModel):
    """A base whose secret must stay out of every subclass's history."""

    name = models.CharField(max_length=50)
    token = models.CharField(max_length=50, blank=True)

    history_exclude = ("token",)


class SecretChild(Secret):
    """Multi-table child that names its own exclusions: the parent's stay excluded."""

    pin = models.CharField(max_length=10, blank=True)

    history_exclude = ("pin",)


class Handle(TimestampedModel):
    """A unique value that a deleted row keeps (plain unique=True)."""

    name = models.CharField(max_length=50, unique=True)

    def __str__(self):
        return self.name


class ReusableHandle(TimestampedModel):
    """A unique value that a deleted row gives back: unique among rows not deleted (a partial constraint)."""

    name = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(date_deleted__isnull=True), name="reusable_handle_alive_name"
            )
        ]

    def __str__(self):
        return self.name


class ActiveWriters(TrackableManager):
    """A project's own `objects` that hides some rows: Django's base manager must still see them."""

    def get_queryset(self):
        return super().get_queryset().filter(archived=False)


class Writer(TrackableModel):
    name = models.CharField(max_length=50)
    archived = models.BooleanField(default=False)

    objects: ClassVar["ActiveWriters[Writer]"] = ActiveWriters()


class Article(TrackableModel):
    writer = models.ForeignKey(Writer, null=True, on_delete=models.CASCADE)
    headline = models.CharField(max_length=100, default="")


class ThingManager(AliveManager):
    """Natural keys defined on `objects`, as Django's docs show them."""

    def get_by_natural_key(self, key):
        return self.get(key=key)


class Thing(TimestampedModel):
    key = models.CharField(max_length=20, unique=True)

    objects: ClassVar["ThingManager[Thing]"] = ThingManager()

    def natural_key(self):
        return (self.key,)


class Ref(TimestampedModel):
    thing = models.ForeignKey(Thing, on_delete=models.CASCADE)


class Tab(TimestampedModel):
    """A CASCADE child whose relation is hidden (related_name="+"): a soft delete still reaches it."""

    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="+")


class Binder(Folder):
    """A multi-table child of a timestamped model."""

    spine = models.CharField(max_length=20, blank=True)


class Sheet(TimestampedModel):
    """A CASCADE child of the multi-table child: deleting the parent's row reaches it."""

    binder = models.ForeignKey(Binder, on_delete=models.CASCADE, related_name="sheets")


class Comment(TimestampedModel):
    """A child reached through a generic relation (Folder.comments), which a real delete cascades to as well."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=100, blank=True)


class Order(TrackableModel):
    """django-model-utils' FieldTracker on a TrackableModel, as projects use it for "did this row change?"."""

    number = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)

    tracker = FieldTracker()
