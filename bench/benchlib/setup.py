"""Configure Django for the benchmark: the baked project's apps plus simple_history, auditlog, pghistory and
benchapp, on an in-memory SQLite database ("default"), a SQLite file in WAL mode as the baked project configures it
("wal", table 9) and, when a server answers, a fresh PostgreSQL database ("pg")."""

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent.parent


def pg_server_url(url):
    """Return an error message if no PostgreSQL server answers at `url`, else None."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def create_database(url, name):
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url, name):
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def configure(project, pg_url=None, pg_name=None):
    """Put the baked project and bench/ on sys.path, configure settings and call django.setup()."""
    for path in (str(BENCH_DIR), str(Path(project).resolve())):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)

    import django
    import environ
    from django.conf import settings

    databases = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": ":memory:",
            # As in the baked project's settings: transactions take the write lock up front.
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        },
        "wal": sqlite_file_database(),
    }
    if pg_url:
        databases["pg"] = environ.Env.db_url_config(with_database(pg_url, pg_name))
        databases["pg"]["CONN_MAX_AGE"] = None  # keep the connection for the whole run
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "apps.core",
            "apps.accounts",
            "simple_history",
            "auditlog",
            "pgtrigger",
            "pghistory",
            *task_queue_apps(),
            "benchapp.apps.BenchAppConfig",
        ],
        # Table 6: django-tasks-db's backend (its results are routed to the database benchmarked, like the rest), and
        # the project's own (apps.core.tasks.backend) on the PostgreSQL database, retrying at once (the retry's cost).
        TASKS={
            "default": {"BACKEND": "django_tasks_db.DatabaseBackend"},
            "project": {
                "BACKEND": "apps.core.tasks.backend.DatabaseBackend",
                "OPTIONS": {"database": "pg", "retry_backoff": 0},
            },
        },
        DATABASES=databases,
        DATABASE_ROUTERS=["benchlib.router.CurrentDatabaseRouter"],
        AUTH_USER_MODEL="accounts.User",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        TIME_ZONE="UTC",
        LOGGING_CONFIG=None,
    )
    django.setup()


def sqlite_file_database():
    """Table 9's SQLite: a file in WAL mode, configured as the baked project's settings configure theirs (the issue
    that asked for the table measured there), in a directory removed at exit."""
    directory = tempfile.mkdtemp(prefix="bench_wal_")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(Path(directory) / "bench.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def task_queue_apps():
    """django-tasks-db for table 6, where it can run: it needs Django 6's django.tasks (or the django-tasks backport,
    installed as `django_tasks`)."""
    from importlib.util import find_spec

    if find_spec("django_tasks_db") is None:
        return []
    if find_spec("django.tasks") is not None:
        return ["django_tasks_db"]
    return ["django_tasks", "django_tasks_db"] if find_spec("django_tasks") is not None else []


def migrate(alias):
    """Migrate the project's and the libraries' apps, then create benchapp's tables (it has no migrations; they
    reference accounts_user, which `migrate --run-syncdb` would not have created yet)."""
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connections

    from . import router

    with router.use(alias):
        call_command("migrate", database=alias, verbosity=0, interactive=False)
        with connections[alias].schema_editor() as editor:
            for model in apps.get_app_config("benchapp").get_models():
                editor.create_model(model)
        if connections[alias].vendor == "postgresql":
            import pgtrigger
            from pghistory.models import Context

            # django-pghistory's triggers (benchapp has no migrations to install them) and the function they call.
            Context.install_pgh_attach_context_func(using=alias)
            pgtrigger.install(database=alias)


@contextlib.contextmanager
def one_database(project, pg_url, pg_name):
    """Configure Django for the baked `project` and migrate one database: a fresh PostgreSQL database `pg_name` at
    `pg_url` (dropped at the end), or with `pg_url` None table 9's SQLite file. Yields its alias. For the scripts
    that look at one kind of write (profile_saves.py, count_instructions.py)."""
    if pg_url:
        create_database(pg_url, pg_name)
    try:
        configure(project, pg_url, pg_name)
        alias = "pg" if pg_url else "wal"
        migrate(alias)
        yield alias
    finally:
        if pg_url:
            from django.db import connections

            connections.close_all()
            drop_database(pg_url, pg_name)
