"""The project's settings, with a user model keyed by UUID (apps.core.tests.uuiduser.User) and its own test
database, for probe_uuid_user.py (run by test_uuid_user.py in a process of its own)."""

from config.settings import *  # noqa: F403

AUTH_USER_MODEL = "uuiduser.User"
INSTALLED_APPS = [*INSTALLED_APPS, "apps.core.tests.uuiduser"]  # noqa: F405

DATABASES["default"]["NAME"] = f"{DATABASES['default']['NAME']}_uuid"  # noqa: F405
if "TEST" in DATABASES["default"]:  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"{DATABASES['default']['TEST']['NAME']}_uuid"}  # noqa: F405
