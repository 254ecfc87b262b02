"""Changes are compared as the database stores them, type-strictly, and recorded in their stored form."""

import math

import pytest
from django.db import connection

from ..testapp.models import Point, Switch
from ..utils import change, stored_history

pytestmark = pytest.mark.django_db


def reloaded(instance):
    return type(instance).objects.get(pk=instance.pk)


def test_one_becoming_true_in_a_json_value_is_written_and_recorded():
    switch = reloaded(Switch.objects.create(settings={"on": 1}))
    switch.settings = {"on": True}
    switch.save()

    assert reloaded(switch).settings == {"on": True}
    assert reloaded(switch).settings["on"] is True
    assert stored_history(switch)[-1]["changes"] == {"settings": change({"on": 1}, {"on": True})}


def test_zero_becoming_false_in_a_json_value_is_written_and_recorded():
    switch = reloaded(Switch.objects.create(settings=[0]))
    switch.settings = [False]
    switch.save()

    assert reloaded(switch).settings[0] is False
    assert stored_history(switch)[-1]["changes"] == {"settings": change([0], [False])}


def test_a_value_the_field_stores_the_same_way_is_not_a_change():
    switch = reloaded(Switch.objects.create(on=True, count=1, ratio=2.0))
    switch.on = 1  # a BooleanField stores True
    switch.count = True  # an IntegerField stores 1
    switch.ratio = 2  # a FloatField stores 2.0
    switch.save()

    assert len(stored_history(switch)) == 1


def test_a_json_value_with_its_keys_in_another_order_is_not_a_change():
    switch = reloaded(Switch.objects.create(settings={"a": 1, "b": 2}))
    switch.settings = {"b": 2, "a": 1}
    switch.save()

    assert len(stored_history(switch)) == 1


def test_a_nan_float_does_not_add_an_entry_on_every_save():
    switch = Switch.objects.create(ratio=math.nan)
    for _ in range(3):
        switch = reloaded(switch)
        switch.ratio = float("nan")
        switch.save()

    assert len(stored_history(switch)) == 1
    # As stored: PostgreSQL keeps NaN; SQLite has none, and stores NULL.
    stored_nan = None if connection.vendor == "sqlite" else "nan"
    assert stored_history(switch)[0]["changes"]["ratio"] == change(None, stored_nan)


def test_a_custom_field_is_recorded_by_its_stored_form_even_when_its_str_raises():
    switch = Switch.objects.create(where=Point(1, 2))
    switch = reloaded(switch)
    assert switch.where == Point(1, 2)
    switch.where = Point(3, 4)
    switch.save()

    history = stored_history(switch)
    assert history[0]["changes"]["where"] == change(None, "1,2")
    assert history[-1]["changes"] == {"where": change("1,2", "3,4")}


def test_an_equal_custom_value_is_not_a_change():
    switch = reloaded(Switch.objects.create(where=Point(1, 2)))
    switch.where = Point(1, 2)
    switch.save()

    assert len(stored_history(switch)) == 1


def test_an_in_place_change_of_a_json_value_is_recorded():
    switch = reloaded(Switch.objects.create(settings={"tags": ["a"]}))
    switch.settings["tags"].append("b")
    switch.save()

    assert stored_history(switch)[-1]["changes"] == {"settings": change({"tags": ["a"]}, {"tags": ["a", "b"]})}
