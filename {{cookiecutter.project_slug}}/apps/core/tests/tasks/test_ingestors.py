"""The ingestor registry: @ingestor, lookups, and autodiscovery of every app's ingestors.py."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.ingestors import autodiscover, get_ingestor, ingestor, registered_ingestors

from ..testapp.models import MyTaskModel
from ..workerapp import ingestors as workerapp_ingestors


def test_an_apps_ingestors_module_is_discovered_at_start_up():
    found = registered_ingestors()

    assert {"record", "sleepy", "flaky", "stamp"} <= set(found)
    assert found["record"].function is workerapp_ingestors.record
    assert found["record"].path == "apps.core.tests.workerapp.ingestors.record"


def test_the_decorator_registers_and_returns_the_function(registry):
    @ingestor("invoices")
    def import_invoices(task):
        pass

    entry = get_ingestor("invoices")
    assert (entry.name, entry.function, entry.model) == ("invoices", import_invoices, None)
    assert callable(import_invoices)


def test_an_ingestor_can_ask_for_a_task_subclass(registry):
    @ingestor("exports", model=MyTaskModel)
    def export(task):
        pass

    assert get_ingestor("exports").model is MyTaskModel


def test_a_second_function_under_a_taken_name_is_refused(registry):
    @ingestor("invoices")
    def first(task):
        pass

    with pytest.raises(
        ImproperlyConfigured, match=r"Two ingestors are registered for 'invoices': .*first and .*second"
    ):

        @ingestor("invoices")
        def second(task):
            pass

    assert get_ingestor("invoices").function is first


def test_discovering_again_changes_nothing(registry):
    before = registered_ingestors()

    autodiscover()

    assert registered_ingestors() == before


@pytest.mark.parametrize("name", ["", None, 7])
def test_an_ingestor_needs_a_name(name):
    with pytest.raises(ImproperlyConfigured, match="needs a non-empty name"):
        ingestor(name)


def test_an_unknown_name_says_which_are_registered(registry):
    registry.clear()

    @ingestor("emails")
    def send(task):
        pass

    with pytest.raises(LookupError, match=r"No ingestor is registered as 'invoices' \(registered: emails\)\."):
        get_ingestor("invoices")
