"""How workers take tasks: `Task.objects.claim()`, one statement that never hands a task out twice."""

from django.db import connections, models


class TaskQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=self.model.Status.PENDING)

    def claim(self, count=1, task_ingestor=None):
        """Atomically take the `count` oldest pending tasks (optionally of one ingestor) and return them, now
        "processing", oldest first.

        One statement does it: `WITH oldest AS (<oldest pending> FOR UPDATE SKIP LOCKED) UPDATE ... SET status =
        'processing' WHERE id IN oldest RETURNING ...`. On PostgreSQL concurrent workers skip one another's locked rows instead of queueing
        behind them, so each gets different tasks at once; on SQLite the single UPDATE is serialised by the database
        lock. A Task subclass (multi-table inheritance) returns the ids and loads its rows in a second query.
        """
        if count < 1:
            raise ValueError(f"claim() needs a count of at least 1, not {count!r}.")
        candidates = self.pending()
        if task_ingestor is not None:
            candidates = candidates.filter(task_ingestor=task_ingestor)
        connection = connections[self.db]
        oldest = candidates.order_by("datetime", "pk").values("pk")[:count]
        oldest_sql, oldest_params = oldest.query.get_compiler(connection=connection).as_sql()
        if connection.features.has_select_for_update_skip_locked:
            oldest_sql = f"{oldest_sql} {connection.ops.for_update_sql(skip_locked=True)}"
        table = self.model._meta.get_field("status").model._meta
        own_table = table.concrete_model is self.model._meta.concrete_model
        quote = connection.ops.quote_name
        status = quote(table.get_field("status").column)
        returned = table.concrete_fields if own_table else [table.pk]
        # The candidates are a MATERIALIZED CTE so they are chosen once: as a plain IN (subquery), PostgreSQL may
        # run the LIMIT subquery more than once and hand out more than `count` tasks. Identifiers are quoted names
        # from the model; every value is a parameter.
        sql = (
            f"WITH oldest AS MATERIALIZED ({oldest_sql}) "  # noqa: S608
            f"UPDATE {quote(table.db_table)} SET {status} = %s "
            f"WHERE {status} = %s AND {quote(table.pk.column)} IN (SELECT * FROM oldest) "
            f"RETURNING {', '.join(quote(field.column) for field in returned)}"
        )
        params = [*oldest_params, self.model.Status.PROCESSING, self.model.Status.PENDING]
        if own_table:
            tasks = list(self.model._base_manager.db_manager(self.db).raw(sql, params))
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                pks = [pk for (pk,) in cursor.fetchall()]
            tasks = list(self.filter(pk__in=pks)) if pks else []
        return sorted(tasks, key=lambda task: (task.datetime, task.pk))
