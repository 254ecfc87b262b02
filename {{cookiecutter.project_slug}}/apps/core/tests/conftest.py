import pytest

from apps.core import ingestors

from .factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    """A superuser, replacing pytest-django's (which hashes a real password: slow by design, and not needed here)."""
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def registry():
    """The ingestor registry, restored after the test (whatever the test registered)."""
    saved = dict(ingestors._registry)
    yield ingestors._registry
    ingestors._registry.clear()
    ingestors._registry.update(saved)
