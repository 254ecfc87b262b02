"""Database expressions used by the audit trail."""

import json

from django.db import NotSupportedError, models


class JSONAppend(models.Func):
    """`column + [item]` computed by the database, so concurrent writers each add their entry and none is lost.

    Used as the new value of the history column in the same UPDATE that saves the row.
    """

    templates = {
        "postgresql": "COALESCE(%(column)s, '[]'::jsonb) || jsonb_build_array(%(item)s::jsonb)",
        "sqlite": "json_insert(COALESCE(%(column)s, '[]'), '$[#]', json(%(item)s))",
    }

    def __init__(self, column, item):
        super().__init__(column, models.Value(json.dumps(item)), output_field=models.JSONField())

    def as_sql(self, compiler, connection, **extra_context):
        template = self.templates.get(connection.vendor)
        if template is None:
            raise NotSupportedError(f"The audit history cannot be appended to on {connection.vendor}.")
        column, item = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        item_sql, item_params = compiler.compile(item)
        return template % {"column": column_sql, "item": item_sql}, (*column_params, *item_params)
