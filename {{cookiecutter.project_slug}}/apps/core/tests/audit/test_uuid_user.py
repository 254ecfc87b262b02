"""A project whose user model has a UUID primary key: every value in an entry, "by" included, goes through one
serialiser. The user model is fixed at start-up, so this runs probe_uuid_user.py in a process of its own."""

import os
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).parent.parent / "uuiduser" / "probe_uuid_user.py"


def test_a_user_model_with_a_uuid_primary_key_works():
    # --noconftest: the probe uses none of the conftest files' fixtures, and the root one would install the test apps,
    # whose migrations (most of a test database's) its database does not need: uuiduser has the audited model it uses.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest", str(PROBE)],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "apps.core.tests.uuiduser.settings"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "2 passed" in done.stdout
