"""The first hour with a baked project: a locked install, the next steps, the first app, the database, `make run`.

The expensive parts run once: a fresh clone of the default project bootstraps itself with its own Makefile (uv
from PyPI, the Python the Makefile finds) and the other tests reuse that checkout.
"""

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from .baking import (
    TEMPLATE,
    UV,
    free_port,
    git_repository_of,
    python_for,
    shell_environment,
    uv_environment,
)
from .test_options import COMBINATIONS, IDS

DJANGO_VERSIONS = ["6.1", "5.2"]
PYTHON_MIN = {"6.1": "3.12", "5.2": "3.11"}


def clean_environment(**extra):
    """The developer's shell without what would leak into a project (its venv, its settings), plus `extra`."""
    environment = shell_environment()
    environment.pop("MAKEFLAGS", None)
    environment.pop("MAKELEVEL", None)
    return {**environment, **extra}


def path_without_uv():
    """PATH without the folders that hold a uv, so that the Makefile bootstraps its own."""
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists())


def make(checkout, *targets, env=None, timeout=600):
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(checkout), *targets],
        env=clean_environment(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("answers", COMBINATIONS, ids=IDS)
def test_the_lock_file_is_current_for_every_combination(bakery, answers):
    """`uv lock --check` passes as baked: the lock matches the project's name, dependencies and Python range."""
    django_version = answers["django_version"]
    project = bakery.bake(**answers)
    done = subprocess.run(
        [UV, "lock", "--check", "--offline", "--python", python_for(project)],
        cwd=project.path,
        env=uv_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lock = project.text("uv.lock")
    assert f'requires-python = ">={PYTHON_MIN[django_version]}"' in lock
    assert re.search(rf'name = "django"\nversion = "{re.escape(django_version)}\.\d+"', lock), "Django pin"


def _lock_packages(text):
    """{name: its [[package]] block} of a uv.lock, in the file's order."""
    _head, *blocks = text.split("\n[[package]]\n")
    return {re.match(r'name = "([^"]+)"', block)[1]: block for block in blocks}


@pytest.mark.parametrize("slug", ["aaa_first", "zzz_last", "double__underscore"])
def test_the_rendered_lock_is_what_uv_writes(cookies_session, tmp_path, slug):
    """The project's own entry is what uv writes, where uv puts it (packages are sorted by name), so a project's
    first `uv lock` shows no diff. Compared with a lock uv writes from scratch, which may pick versions released since
    the template's lock was made: the project's entry and the order of the packages must be the same."""
    result = cookies_session.bake(extra_context={"project_slug": slug, "django_version": "5.2"})
    rendered = _lock_packages((result.project_path / "uv.lock").read_text(encoding="utf-8"))
    (result.project_path / "uv.lock").unlink()
    subprocess.run(
        [UV, "lock", "--quiet", "--python", sys.executable],
        cwd=result.project_path,
        env=uv_environment(),
        check=True,
    )
    written = _lock_packages((result.project_path / "uv.lock").read_text(encoding="utf-8"))
    project = re.sub(r"[-_.]+", "-", slug)  # the distribution name, as uv writes it
    assert rendered[project] == written[project]
    assert [name for name in rendered if name in written] == [name for name in written if name in rendered]


def test_a_bake_ends_with_the_next_steps(tmp_path):
    done = subprocess.run(
        [Path(sys.executable).with_name("cookiecutter"), str(TEMPLATE), "--no-input", "--output-dir", "out"],
        cwd=tmp_path,
        env={**os.environ, "PWD": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    steps = done.stdout[done.stdout.index("Next steps:") :]
    assert "cd out/my_service\n" in steps
    assert "make run" in steps
    assert "manage.py createsuperuser" in steps


@pytest.fixture(scope="module")
def fresh_clone(default_project, tmp_path_factory):
    """The default project as a teammate gets it: a git clone (no .venv, no .env), installed by `make install`
    with no uv on PATH, so the Makefile finds a Python and bootstraps uv from PyPI itself."""
    repository = git_repository_of(default_project, tmp_path_factory.mktemp("origin") / "origin")
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "baked"],
        cwd=repository,
        check=True,
    )
    clone = tmp_path_factory.mktemp("clone") / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repository), str(clone)], check=True)
    path = path_without_uv()
    started = time.perf_counter()
    done = make(clone, "install", env={"PATH": path})
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"fresh clone: make install took {time.perf_counter() - started:.1f} s")
    return clone, path, done.stdout


def test_a_fresh_clone_bootstraps_uv_and_installs_from_the_lock(fresh_clone):
    clone, _path, output = fresh_clone
    assert "Installing uv" in output
    assert "sync --locked" in output
    assert (clone / ".venv" / "bin" / "uv").exists()
    assert (clone / ".env").exists()
    env_file = (clone / ".env").read_text()
    assert "DEBUG=True" not in env_file


def test_a_python_without_pip_bootstraps_uv_with_the_venvs_own_pip(default_project, tmp_path):
    """The Makefile installs uv with Python's own pip into a venv made without pip (ensurepip costs 2 s). Debian's
    python3 comes without pip unless python3-pip is installed: then it makes the venv with pip and uses that one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python3 = bin_dir / "python3"
    python3.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "No module named pip" >&2; exit 1; fi\n'
        f'exec "{python_for(default_project)}" "$@"\n'
    )
    python3.chmod(0o755)
    checkout = git_repository_of(default_project, tmp_path / "checkout")
    path = path_without_uv()
    done = make(checkout, "install", env={"PATH": f"{bin_dir}{os.pathsep}{path}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Installing uv" in done.stdout
    assert (checkout / ".venv" / "bin" / "uv").exists()


def test_without_a_suitable_python_the_makefile_says_which_one_in_a_sentence(bakery, tmp_path):
    """Only Python 3.11 on PATH and no pyenv: a Django 6.1 project needs 3.12."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python311 = shutil.which("python3.11") or sys.executable
    (bin_dir / "python3").symlink_to(python311)
    checkout = git_repository_of(bakery.bake(django_version="6.1"), tmp_path / "checkout")
    done = make(checkout, "install", env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode != 0
    assert "This project needs Python 3.12 or newer, and none was found" in done.stderr
    assert not (checkout / ".venv").exists()


# make app's three bases: (arguments, the model's class line, the admin's class line, list_display, its tests).
APP_BASES = {
    "timestamped": (
        ["name=notes"],
        "class Note(TimestampedModel)",
        "class NoteAdmin(TimestampedAdminMixin, admin.ModelAdmin)",
        'list_display = ("title", "date_updated", "updated_by")',
        "2 passed",
    ),
    "trackable": (
        ["name=ledgers", "base=trackable"],
        "class Ledger(TrackableModel)",
        "class LedgerAdmin(TrackableAdminMixin, admin.ModelAdmin)",
        'list_display = ("title", "updated_at", "updated_by")',
        "1 passed",
    ),
    "plain": (
        ["name=tags", "base=plain"],
        "class Tag(models.Model)",
        "class TagAdmin(admin.ModelAdmin)",
        'list_display = ("title",)',
        "1 passed",
    ),
}


def test_make_app_creates_an_app_on_each_base_that_passes_lint_and_its_tests(fresh_clone):
    """One app per base in one checkout (the default, timestamped, given no base), then the project's make lint and
    make test over all of them."""
    clone, path, _ = fresh_clone
    app_clone = clone.parent / "with-app"
    shutil.copytree(clone, app_clone, symlinks=True)
    for arguments, model, admin, list_display, _passed in APP_BASES.values():
        done = make(app_clone, "app", *arguments, env={"PATH": path})
        assert done.returncode == 0, done.stdout + done.stderr
        name = arguments[0].removeprefix("name=")
        app = app_clone / "apps" / name
        assert f'name = "apps.{name}"' in (app / "apps.py").read_text()
        assert f'"apps.{name}",' in (app_clone / "config" / "settings.py").read_text()
        assert model in (app / "models.py").read_text()
        assert admin in (app / "admin.py").read_text()
        assert list_display in (app / "admin.py").read_text()
        assert (app / "migrations" / "0001_initial.py").exists()
    for target in ("lint", "test"):
        done = make(app_clone, target, env={"PATH": path})
        assert done.returncode == 0, f"make {target}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
    for arguments, *_, passed in APP_BASES.values():
        name = arguments[0].removeprefix("name=")
        check = subprocess.run(
            [app_clone / ".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider", f"apps/{name}"],
            cwd=app_clone,
            env=clean_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert passed in check.stdout, check.stdout
    again = make(app_clone, "app", "name=notes", env={"PATH": path})
    assert again.returncode != 0
    assert "apps/notes already exists; choose another name." in again.stderr


def test_make_app_refuses_a_base_it_does_not_know(fresh_clone):
    clone, path, _ = fresh_clone
    done = make(clone, "app", "name=drafts", "base=fancy", env={"PATH": path})
    assert done.returncode != 0
    assert "argument --base: invalid choice: 'fancy'" in done.stderr
    assert not (clone / "apps" / "drafts").exists()


def test_scripts_release_runs_from_the_project_root_without_make(fresh_clone, tmp_path):
    """The clone's .venv is not on PATH: the script finds it. Its settings come from the .env that make wrote
    (DEBUG off, a SECRET_KEY, localhost in ALLOWED_HOSTS)."""
    clone, path, _ = fresh_clone
    done = subprocess.run(
        ["scripts/release"],
        cwd=clone,
        env=clean_environment(PATH=path, STATIC_ROOT=str(tmp_path / "static")),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "static files copied" in done.stdout
    assert (tmp_path / "static" / "staticfiles.json").is_file()


def test_make_app_refuses_a_name_that_shadows_a_module(fresh_clone):
    clone, path, _ = fresh_clone
    done = make(clone, "app", "name=json", env={"PATH": path})
    assert done.returncode != 0
    assert "conflicts with the name of an existing Python module" in done.stderr
    assert not (clone / "apps" / "json").exists()


def run_until_serving(clone, path, port, target="run", ready="Serving on"):
    """`make <target>` in the background until it prints a line starting with `ready` (or exits); returns
    (process, output so far)."""
    process = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(clone), target, f"ADDRESS=127.0.0.1:{port}"],
        env=clean_environment(PATH=path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(ready):
            break
    return process, "".join(lines)


def stop(process):
    """SIGTERM to the whole process group (make, runserver and its reloader); SIGKILL if it has not exited in 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def get(url, attempts=50):
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL of the test
                return response.status
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_make_run_prints_the_url_and_how_to_create_the_admin_account(fresh_clone):
    clone, path, _ = fresh_clone
    port = free_port()
    process, output = run_until_serving(clone, path, port)
    try:
        assert f"Serving on http://127.0.0.1:{port}/" in output, output
        assert "No admin account yet: create one with  .venv/bin/python manage.py createsuperuser" in output
        assert get(f"http://127.0.0.1:{port}/admin/login/") == 200
    finally:
        stop(process)
    subprocess.run(
        [
            clone / ".venv/bin/python",
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "boss",
            "--email",
            "boss@example.com",
        ],
        cwd=clone,
        env=clean_environment(DJANGO_SUPERUSER_PASSWORD=secrets.token_urlsafe(16)),
        check=True,
    )
    process, output = run_until_serving(clone, path, port)
    stop(process)
    assert "Serving on" in output
    assert "No admin account yet" not in output


@pytest.mark.postgres
def test_make_db_creates_the_database_once_and_names_an_unreachable_server(fresh_clone, postgres_url):
    clone, path, _ = fresh_clone
    name = f"tpl_h3_makedb_{secrets.token_hex(4)}"
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        first = make(clone, "db", env={"PATH": path, "DATABASE_URL": url})
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"Created the database '{name}'" in first.stdout
        second = make(clone, "db", env={"PATH": path, "DATABASE_URL": url})
        assert f"The database '{name}' already exists" in second.stdout
        migrated = make(clone, "migrate", env={"PATH": path, "DATABASE_URL": url})
        assert migrated.returncode == 0, migrated.stderr
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    closed = f"postgres://postgres@127.0.0.1:{free_port()}/{name}"
    unreachable = make(clone, "db", env={"PATH": path, "DATABASE_URL": closed})
    assert unreachable.returncode != 0
    message = [line for line in unreachable.stderr.splitlines() if line.startswith("Could not reach")]
    assert len(message) == 1, unreachable.stderr
    assert f"Could not reach the PostgreSQL server at 127.0.0.1:{closed.split(':')[2].split('/')[0]}" in message[0]


def test_make_db_on_sqlite_says_there_is_nothing_to_do(fresh_clone):
    clone, path, _ = fresh_clone
    done = make(clone, "db", env={"PATH": path})
    assert done.returncode == 0, done.stderr
    assert "is created on first use" in done.stdout


def test_the_test_suite_passes_from_the_fresh_clone(fresh_clone):
    clone, path, _ = fresh_clone
    started = time.perf_counter()
    done = make(clone, "test", env={"PATH": path})
    print(f"fresh clone: make test took {time.perf_counter() - started:.1f} s after make install")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


def test_make_serve_runs_the_release_then_gunicorn_with_debug_off(fresh_clone):
    clone, path, _ = fresh_clone
    port = free_port()
    process, output = run_until_serving(clone, path, port, "serve", ready="Serving with gunicorn")
    try:
        assert "Serving with gunicorn" in output, output
        assert get(f"http://127.0.0.1:{port}/healthz") == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=10) as response:
            page = response.read().decode()
        # DEBUG off: the page links the collected, hashed files that WhiteNoise serves.
        assert re.search(r'href="/static/admin/css/base\.[0-9a-f]{12}\.css"', page), page[:2000]
        assert "Applying" in output or "No migrations to apply" in output
        assert "static files copied" in output
    finally:
        stop(process)
