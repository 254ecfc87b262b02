"""Fixtures of the task system's tests."""

import pytest

from apps.core.tasks import ingestors


@pytest.fixture
def registry():
    """The ingestor registry, restored after the test (whatever the test registered)."""
    saved = dict(ingestors._registry)
    yield ingestors._registry
    ingestors._registry.clear()
    ingestors._registry.update(saved)
