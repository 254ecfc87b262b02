"""Helpers shared by the tests."""

import json
import threading

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection, connections
from django.urls import reverse


def change(old, new):
    """One field's change, as a history entry records it."""
    return {"old": old, "new": new}


def stored_history(instance):
    """The history as the database holds it now, read without the instance (whose copy may be stale)."""
    return type(instance)._base_manager.values_list("history", flat=True).get(pk=instance.pk)


def write_history(instance, history):
    """Write `history` into the row's column as it is, as hand-written SQL or an old data migration would (entries
    the audit trail never writes included)."""
    quote = connection.ops.quote_name
    table = quote(instance._meta.get_field("history").model._meta.db_table)
    column = quote(instance._meta.get_field("history").column)
    value = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        sql = f"UPDATE {table} SET {column} = {value} WHERE id = %s"  # noqa: S608 - quoted names, bound values
        cursor.execute(sql, [json.dumps(history), instance.pk])


def run_in_parallel(worker, count):
    """Run worker(index, barrier) in `count` threads at once, each with its own database connection.

    Each worker calls barrier.wait() when ready, so that all of them hit the database at the same moment. Returns
    the workers' results in order; re-raises the first exception a worker raised.
    """
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def run(index):
        try:
            results[index] = worker(index, barrier)
        except BaseException as error:
            errors.append(error)
            barrier.abort()  # release the others rather than leave them waiting
        finally:
            connections.close_all()  # this thread's connections only

    threads = [threading.Thread(target=run, args=(index,), name=f"worker-{index}") for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker did not finish"
    if errors:
        raise errors[0]
    return results


def run_action(client, model, action, objects, query="", **extra):
    """Post an action from the changelist page at `query`, as the admin's action form does."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") + query
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    return client.post(url, data, follow=True)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def changelist_pks(client, model, query=""):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url + query)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}
