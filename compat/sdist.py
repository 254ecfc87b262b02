"""Django's own tests for an exact Django version: the `tests/` folder of its sdist from PyPI.

The sdist is downloaded once with pip (which checks it against the index's hash; run by uv when the interpreter has
no pip of its own) and its `tests/` folder unpacked
once, both under a cache folder that is never committed: `<template>/.venv/compat-cache` unless `COMPAT_CACHE` names
another. The unpacked folder is read-only input: runs work on a tree of links and transformed copies (`tree.py`).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .errors import CompatError

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = TEMPLATE / ".venv" / "compat-cache"


def cache_folder():
    return Path(os.environ.get("COMPAT_CACHE") or DEFAULT_CACHE)


def django_tests(version, cache=None):
    """The unpacked `tests/` folder of Django `version`'s sdist (fetched from PyPI on first use)."""
    cache = Path(cache or cache_folder())
    target = cache / f"django-{version}" / "tests"
    if (target / "runtests.py").is_file():
        return target
    archive = download_sdist(version, cache / "sdists")
    _unpack_tests(archive, target)
    return target


def download_sdist(version, folder):
    """The sdist archive of Django `version` in `folder`, downloaded by pip unless it is there already."""
    found = _sdist_in(folder, version)
    if found:
        return found
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            *_pip(),
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            # Only the archive is wanted, for its tests: the interpreter running pip may be older than the one the
            # project (and its Django) needs.
            "--ignore-requires-python",
            "--no-binary",
            ":all:",
            "--dest",
            str(folder),
            f"Django=={version}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = _sdist_in(folder, version)
    if done.returncode != 0 or found is None:
        raise CompatError(
            f"Could not download the sdist of Django {version} from PyPI with pip: "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return found


def _pip():
    """pip, the registry's own client: this interpreter's, or (in a virtualenv made by uv, which has none) pip run
    by the template's pinned uv."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uv = Path(sys.executable).with_name("uv")
    return [str(uv) if uv.exists() else "uv", "tool", "run", "--quiet", "pip"]


def _sdist_in(folder, version):
    if not folder.is_dir():
        return None
    wanted = f"django-{version}.tar.gz"
    return next((path for path in folder.iterdir() if path.name.lower() == wanted), None)


def _unpack_tests(archive, target):
    """Unpack the archive's `<top>/tests/` into `target`, atomically (a half-unpacked folder is never reused)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        members = [member for member in tar.getmembers() if _is_test_file(member.name)]
        if not members:
            raise CompatError(f"{archive.name} has no tests/ folder; is it a Django sdist?")
        tar.extractall(scratch, members=members, filter="data")
        (top,) = Path(scratch).iterdir()
        unpacked = top / "tests"
        if not (unpacked / "runtests.py").is_file():
            raise CompatError(f"{archive.name} has no tests/runtests.py; is it a Django sdist?")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)


def _is_test_file(name):
    parts = Path(name).parts
    return len(parts) >= 2 and parts[1] == "tests"
