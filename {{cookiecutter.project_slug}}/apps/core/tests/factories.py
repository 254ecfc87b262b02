"""factory-boy factories for the user model, Task and the test app's models."""

import datetime

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from apps.accounts.models import User as ProjectUser
from apps.core.models import Task

from .testapp.models import Category, Document, MyTaskModel, Note

# The user model in force (a test may swap it); typed as the project's own.
User = get_user_model()

# Tasks are created a minute apart from here on, so "oldest first" is well defined.
TASKS_START = datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.UTC)


class UserFactory(DjangoModelFactory[ProjectUser]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    # No usable password: the tests log users in with force_login, and hashing a real one is slow by design.
    password = factory.django.Password(None)

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        # The project signs users in with a username or with their e-mail address, as chosen when it was baked.
        if User.USERNAME_FIELD != "email":
            kwargs.setdefault(User.USERNAME_FIELD, kwargs["email"].partition("@")[0])
        return kwargs


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"category {n}")


class DocumentFactory(DjangoModelFactory[Document]):
    class Meta:
        model = Document

    title = factory.Sequence(lambda n: f"document {n}")


class NoteFactory(DjangoModelFactory[Note]):
    class Meta:
        model = Note

    title = factory.Sequence(lambda n: f"note {n}")


class TaskFactory(DjangoModelFactory[Task]):
    class Meta:
        model = Task

    name = factory.Sequence(lambda n: f"task {n}")
    task_ingestor = "default"
    datetime = factory.Sequence(lambda n: TASKS_START + datetime.timedelta(minutes=n))


class MyTaskFactory(TaskFactory):
    class Meta:
        model = MyTaskModel

    my_field = factory.Sequence(lambda n: f"payload {n}")
