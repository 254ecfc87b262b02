"""Fixtures of the task system's tests.

The tests run on their own ingestors (workerapp/ingestors.py) and schedules only: whatever the project itself
registers is set aside while each test runs, so that adding an ingestor or a periodic task to the project never
changes what these tests see.
"""

import pytest

from apps.core.tasks import ingestors, schedules

# What start-up discovered: the project's own and the test apps'. Worker processes started by a test discover the
# same (tests/workers.py), so their messages name these.
DISCOVERED_INGESTORS = dict(ingestors._registry)
TEST_INGESTORS_MODULE = "apps.core.tests.workerapp.ingestors"


def discovered_ingestor_names():
    """The ingestors a worker process started by a test has registered, as its messages list them."""
    return ", ".join(sorted(DISCOVERED_INGESTORS))


@pytest.fixture(autouse=True)
def registry():
    """The ingestor registry, holding only the test apps' ingestors while the test runs (whatever the test
    registers is dropped after it); the periodic schedules likewise, empty unless the test declares some."""
    saved_ingestors, saved_schedules = dict(ingestors._registry), dict(schedules._registry)
    ingestors._registry.clear()
    ingestors._registry.update(
        {name: entry for name, entry in saved_ingestors.items() if entry.function.__module__ == TEST_INGESTORS_MODULE}
    )
    schedules._registry.clear()
    yield ingestors._registry
    ingestors._registry.clear()
    ingestors._registry.update(saved_ingestors)
    schedules._registry.clear()
    schedules._registry.update(saved_schedules)
