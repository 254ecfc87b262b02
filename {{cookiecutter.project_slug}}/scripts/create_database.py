"""Create the PostgreSQL database named in DATABASE_URL when it does not exist yet: `make db`.

It connects to the same server with the same credentials, to its `postgres` maintenance database, and runs
CREATE DATABASE. An existing database is left as it is. On SQLite there is nothing to do: the file is created on
first use.
"""

import os
import sys
from pathlib import Path

import django
import psycopg
from django.conf import settings
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
MAINTENANCE_DATABASE = "postgres"


def reason_of(error):
    lines = str(error).strip().splitlines()
    return lines[-1].strip() if lines else type(error).__name__


def main():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"]:
        print(f"DATABASE_URL is not PostgreSQL: {database['NAME']} is created on first use (make migrate).")
        return
    name = database["NAME"]
    where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
    params = {
        "dbname": MAINTENANCE_DATABASE,
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "connect_timeout": 5,
        "autocommit": True,
    }
    try:
        with psycopg.connect(**{key: value for key, value in params.items() if value is not None}) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                print(f"The database {name!r} already exists on {where}.")
                return
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        sys.exit(f"Could not reach the PostgreSQL server at {where} to create {name!r} ({reason_of(error)}).")
    except psycopg.Error as error:
        sys.exit(f"The PostgreSQL server at {where} refused to create {name!r} ({reason_of(error)}).")
    print(f"Created the database {name!r} on {where}.")


if __name__ == "__main__":
    main()
