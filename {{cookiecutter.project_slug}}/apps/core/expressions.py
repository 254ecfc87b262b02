"""Database expressions used by the audit trail."""

import json

from django.db import NotSupportedError, models


class JSONAppend(models.Expression):
    """`column || [item]` computed by the database, so concurrent writers each add their entry and none is lost.

    Used as the new value of the history column in the UPDATE that saves the row. It names the column directly
    (an UPDATE has no joins to disambiguate) and carries the item as one JSON parameter: saves build one of these
    each time, so it is kept cheaper to build and resolve than an F() wrapped in a Func.
    """

    output_field = models.JSONField()
    templates = {
        "postgresql": "COALESCE({column}, '[]'::jsonb) || jsonb_build_array(%s::jsonb)",
        "sqlite": "json_insert(COALESCE({column}, '[]'), '$[#]', json(%s))",
    }

    def __init__(self, column, item):
        super().__init__()
        self.column = column
        self.item = json.dumps(item)

    def resolve_expression(self, *args, **kwargs):
        # Nothing to resolve (no references, no joins) and nothing to mutate, so no copy either: Django resolves an
        # update's values more than once per save.
        return self

    def as_sql(self, compiler, connection):
        template = self.templates.get(connection.vendor)
        if template is None:
            raise NotSupportedError(f"The audit history cannot be appended to on {connection.vendor}.")
        return template.format(column=connection.ops.quote_name(self.column)), (self.item,)
