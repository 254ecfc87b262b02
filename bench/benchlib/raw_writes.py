"""Table 9's limit: the writes of the table and their history entries, each in one hand-written statement.

The rows are RawSqlLimit's (as wide as TrackableModel's); each statement writes the row and appends the same entry
TrackableModel would (`{"at", "by", "by_name", "action", "changes"}`) to its history, with no ORM in between. What
is left is the driver, the database and the entry's JSON: the floor an ORM-level audit trail can approach.
"""

import json

from django.db import connections
from django.utils import timezone

from .subjects import new_values

_APPEND = {
    "postgresql": "COALESCE({history}, '[]'::jsonb) || jsonb_build_array({entry})",
    "sqlite": "json_insert(COALESCE({history}, '[]'), '$[#]', json({entry}))",
}
_JSON_PARAM = {"postgresql": "%s::jsonb", "sqlite": "json(%s)"}
# The entry of a 1-row update, built by the database from the row's old value, as an audited QuerySet.update() does.
_UPDATE_ENTRY = {
    "postgresql": "jsonb_build_object('at', %s::text, 'by', NULL, 'by_name', NULL, 'action', 'update', 'changes', "
    "jsonb_build_object('quantity', jsonb_build_object('old', quantity, 'new', quantity + 1)))",
    "sqlite": "json_object('at', %s, 'by', NULL, 'by_name', NULL, 'action', 'update', 'changes', "
    "json_object('quantity', json_object('old', quantity, 'new', quantity + 1)))",
}
# Twenty rows in one statement: {id: [new quantity, entry]} in one JSON parameter.
_BULK = {
    "postgresql": "UPDATE {table} SET quantity = (e.value ->> 0)::integer, updated_at = %s, updated_by_id = NULL, "
    "history = COALESCE({table}.history, '[]'::jsonb) || jsonb_build_array(e.value -> 1) "
    "FROM jsonb_each(%s::jsonb) AS e WHERE {table}.id = (e.key)::bigint",
    "sqlite": "UPDATE {table} SET quantity = e.value ->> 0, updated_at = %s, updated_by_id = NULL, "
    "history = json_insert(COALESCE({table}.history, '[]'), '$[#]', json(e.value -> 1)) "
    "FROM json_each(%s) AS e WHERE {table}.id = e.key",
}
_COLUMNS = "id, name, quantity, price, created_at, updated_at, created_by_id, updated_by_id"


class RawWrites:
    """The five writes of table 9 on `alias`, by hand. Rows are [id, name, quantity, price]."""

    def __init__(self, model, alias):
        self.connection = connection = connections[alias]
        vendor = connection.vendor
        self.ops = connection.ops
        table = self.ops.quote_name(model._meta.db_table)
        self.table = table
        append = _APPEND[vendor]
        self.insert_sql = (
            f"INSERT INTO {table} (name, quantity, price, created_at, updated_at, created_by_id, updated_by_id, "
            f"history) VALUES (%s, %s, %s, %s, %s, NULL, NULL, {_JSON_PARAM[vendor]}) RETURNING id"
        )
        self.select_sql = f"SELECT {_COLUMNS} FROM {table} WHERE id = %s"
        self.update_sql = (
            f"UPDATE {table} SET name = %s, quantity = %s, price = %s, updated_at = %s, updated_by_id = NULL, "
            f"history = {append.format(history='history', entry='%s')} WHERE id = %s"
        )
        self.qs_update_sql = (
            f"UPDATE {table} SET quantity = quantity + 1, updated_at = %s, updated_by_id = NULL, "
            f"history = {append.format(history='history', entry=_UPDATE_ENTRY[vendor])} WHERE id = %s"
        )
        self.bulk_sql = _BULK[vendor].format(table=table)

    def _now(self):
        """The write's time as the column takes it, and as the entry spells it."""
        now = timezone.now()
        return self.ops.adapt_datetimefield_value(now), now.isoformat(timespec="microseconds")

    def create(self, i):
        values = new_values(i)
        stamp, at = self._now()
        created = {"name": values["name"], "quantity": values["quantity"], "price": str(values["price"])}
        entry = _entry("create", at, {name: {"old": None, "new": value} for name, value in created.items()})
        price = self.ops.adapt_decimalfield_value(values["price"], 12, 2)
        with self.connection.cursor() as cursor:
            params = [values["name"], values["quantity"], price, stamp, stamp, json.dumps([entry])]
            cursor.execute(self.insert_sql, params)
            return cursor.fetchone()[0]

    def rows(self):
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT id, name, quantity, price FROM {self.table} ORDER BY id")
            return [list(row) for row in cursor.fetchall()]

    def save(self, row):
        """Write a loaded row whose quantity went up by one, with its entry."""
        pk, name, quantity, price = row
        stamp, at = self._now()
        entry = _entry("update", at, {"quantity": {"old": quantity - 1, "new": quantity}})
        price = self.ops.adapt_decimalfield_value(price, 12, 2)
        with self.connection.cursor() as cursor:
            cursor.execute(self.update_sql, [name, quantity, price, stamp, json.dumps(entry), pk])

    def get_and_save(self, pk):
        with self.connection.cursor() as cursor:
            cursor.execute(self.select_sql, [pk])
            pk, name, quantity, price, *_audit = cursor.fetchone()
        self.save([pk, name, quantity + 1, price])

    def queryset_update(self, pk):
        stamp, at = self._now()
        with self.connection.cursor() as cursor:
            cursor.execute(self.qs_update_sql, [stamp, at, pk])

    def bulk_update(self, rows):
        """Write `rows`, each with its quantity up by one and its own entry, in one statement."""
        stamp, at = self._now()
        keyed = {}
        for row in rows:
            row[2] += 1
            keyed[str(row[0])] = [row[2], _entry("update", at, {"quantity": {"old": row[2] - 1, "new": row[2]}})]
        with self.connection.cursor() as cursor:
            cursor.execute(self.bulk_sql, [stamp, json.dumps(keyed)])


def _entry(action, at, changes):
    return {"at": at, "by": None, "by_name": None, "action": action, "changes": changes}
