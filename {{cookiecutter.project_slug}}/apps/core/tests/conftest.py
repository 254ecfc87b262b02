"""Fixtures every room's tests share: users. A room with fixtures of its own keeps them in its conftest (tasks/conftest.py)."""

import pytest

from .factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory.create()


@pytest.fixture
def other_user(db):
    return UserFactory.create()


@pytest.fixture
def admin_user(db):
    """A superuser, replacing pytest-django's (which hashes a real password: slow by design, and not needed here)."""
    return UserFactory.create(is_staff=True, is_superuser=True)
