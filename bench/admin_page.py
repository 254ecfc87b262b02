#!/usr/bin/env python
"""Table 7: the admin change page of a row whose history holds 10 entries, against one holding 10,000.

Runs inside a baked project (its settings, its admin, the test app's Document and its TrackableAdminMixin admin),
on a fresh database: SQLite in a temporary file, or a PostgreSQL database created and dropped here.

    python bench/admin_page.py --project path/to/my_service [--database-url URL] [--quick]

The page reads only the entries it shows (the database cuts them out of the history), so its time and size should
not grow with the history; the goal is the 10,000-entry page within 2x of the 10-entry one.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

LENGTHS = (10, 50, 10_000)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--database-url", help="a database to create the tables in (default: a temporary SQLite file)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DEBUG="True",
            DATABASE_URL=args.database_url or f"sqlite:///{scratch}/admin_page.sqlite3",
        )
        sys.path.insert(0, str(args.project.resolve()))
        os.chdir(args.project)
        results = measure(5 if args.quick else 21)
    print(json.dumps(results))


def measure(repeats):
    import django
    from django.conf import settings
    from django.test.utils import override_settings, setup_test_environment

    django.setup()
    override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "apps.core.tests.testapp"],
        ROOT_URLCONF="config.urls",
        SECURE_SSL_REDIRECT=False,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ).enable()
    setup_test_environment()

    from apps.core.tests.testapp.models import Document
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0, run_syncdb=True)
    user = get_user_model()._default_manager.create_superuser(
        **{get_user_model().USERNAME_FIELD: "bench@example.com"}, password=None
    )
    client = Client()
    client.force_login(user)
    results = {}
    for length in LENGTHS:
        document = Document.objects.create(title=f"{length} entries")
        entry = {"at": "2026-01-01T00:00:00.000000+00:00", "by": None, "by_name": "bench", "action": "update"}
        entries = [{**entry, "changes": {"views": {"old": i, "new": i + 1}}} for i in range(length)]
        with connection.cursor() as cursor:
            cast = "::jsonb" if connection.vendor == "postgresql" else ""
            table = connection.ops.quote_name(Document._meta.db_table)
            cursor.execute(f"UPDATE {table} SET history = %s{cast} WHERE id = %s", [json.dumps(entries), document.pk])
        url = reverse("admin:testapp_document_change", args=[document.pk])
        client.get(url)  # warm up
        seconds, size = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
            size = len(response.content)
        results[length] = {"seconds": statistics.median(seconds), "bytes": size}
    return results


if __name__ == "__main__":
    main()
