"""The one baking helper the template's tests share.

`Bakery` bakes each distinct set of answers once per test session, and runs each expensive check (a project
virtualenv, Django checks, migrations, the baked project's own test suite) once per distinct *project*: two bakes
whose Python code and tool configuration are identical (answers that differ only in the licence text or the CI file,
say) share one run of each check.
"""

import glob
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

TEMPLATE = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).with_name("uv")
POSTGRES_SERVER = os.environ.get("TEMPLATE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TOOL_FOLDERS = {".venv", ".ruff_cache", "__pycache__", ".pytest_cache", ".mypy_cache", ".import_linter_cache"}
# Variables of the developer's shell that would leak into a baked project's settings.
PROJECT_VARIABLES = ("DATABASE_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "ADMIN_URL", "DJANGO_SETTINGS_MODULE")


def shell_environment(**extra):
    """The developer's shell without what would leak into a baked project (its settings, an active virtualenv),
    plus `extra`."""
    environment = {k: v for k, v in os.environ.items() if k not in PROJECT_VARIABLES and k != "VIRTUAL_ENV"}
    return {**environment, **extra}


def free_port():
    """A TCP port on loopback that nothing listens on (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StepFailed(AssertionError):
    pass


@dataclass
class BakedProject:
    path: Path
    context: dict
    venv: Path | None = None
    _results: dict = field(default_factory=dict)

    def files(self):
        """The project's files, without its virtualenv and the caches tools leave behind (a template checkout that
        ran ruff or Python in its project folder hands them on to every bake)."""
        return sorted(
            path
            for path in self.path.rglob("*")
            if path.is_file() and not TOOL_FOLDERS.intersection(path.relative_to(self.path).parts)
        )

    def text(self, relative):
        return (self.path / relative).read_text(encoding="utf-8")

    @property
    def digest(self):
        """What the expensive checks depend on: the Python sources and pyproject's dependencies and tool settings."""
        sha = hashlib.sha256()
        for path in self.files():
            if path.suffix == ".py":
                sha.update(str(path.relative_to(self.path)).encode() + b"\0" + path.read_bytes())
        pyproject = tomllib.loads(self.text("pyproject.toml"))
        relevant = {
            "dependencies": pyproject["project"]["dependencies"],
            "extras": pyproject["project"].get("optional-dependencies"),
            "tool": pyproject.get("tool"),
        }
        sha.update(json.dumps(relevant, sort_keys=True).encode())
        sha.update(self.text("uv.lock").encode())
        return sha.hexdigest()

    def run(self, *args, env=None, cwd=None):
        """Run a command of the project's virtualenv in the project; a failure shows its output."""
        command = [str(self.venv / "bin" / args[0]), *args[1:]]
        environment = shell_environment(**(env or {}))
        done = subprocess.run(
            command, cwd=cwd or self.path, env=environment, capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0:
            raise StepFailed(
                f"{' '.join(args)} failed in {self.path} (exit {done.returncode}):\n"
                f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
            )
        return done

    def manage(self, *args, env=None):
        return self.run("python", "manage.py", *args, env=env)


class Bakery:
    def __init__(self, cookies, workdir):
        self._cookies = cookies
        self._workdir = workdir
        self._bakes = {}
        self._steps = {}
        self._venvs = {}

    def bake(self, **context):
        key = json.dumps(context, sort_keys=True)
        if key not in self._bakes:
            result = self._cookies.bake(extra_context=context)
            assert result.exit_code == 0, f"baking {context} failed: {result.exception!r}"
            self._bakes[key] = BakedProject(Path(result.project_path), context)
        return self._bakes[key]

    def installed(self, project):
        """The project with a virtualenv holding its own dependencies (shared by projects with the same digest),
        installed as the project's Makefile installs it: `uv sync --locked` from the baked uv.lock."""
        if project.venv is None:
            digest = project.digest
            if digest not in self._venvs:
                venv = self._workdir / f"venv-{digest[:12]}"
                uv_sync(project, venv)
                self._venvs[digest] = venv
            project.venv = self._venvs[digest]
        return project

    def step(self, project, name, database_url=None):
        """Run one named check once per distinct project and database; re-raise its failure for every caller."""
        key = (project.digest, name, database_url)
        if key not in self._steps:
            try:
                self._steps[key] = STEPS[name](self.installed(project), database_url)
            except StepFailed as failure:
                self._steps[key] = failure
        outcome = self._steps[key]
        if isinstance(outcome, StepFailed):
            raise outcome
        return outcome


def uv_environment(**extra):
    """The environment uv runs in: no Python downloads (only the machine's interpreters), no leaked project venv."""
    return shell_environment(**{"UV_PYTHON_DOWNLOADS": "never", **extra})


def uv_sync(project, venv):
    """Install the project and its dev extra into `venv` from its own lock file; fails if the lock is stale."""
    done = subprocess.run(
        [UV, "sync", "--locked", "--extra", "dev", "--quiet", "--python", python_for(project)],
        cwd=project.path,
        env=uv_environment(UV_PROJECT_ENVIRONMENT=str(venv)),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise StepFailed(f"uv sync --locked failed in {project.path}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def python_for(project):
    """An interpreter that satisfies the project's requires-python (Django 6.1 needs 3.12+): this one if it does,
    else the newest python3.1x on PATH or installed by pyenv."""
    minimum = tomllib.loads(project.text("pyproject.toml"))["project"]["requires-python"].removeprefix(">=")
    wanted = tuple(int(part) for part in minimum.split("."))
    if sys.version_info[:2] >= wanted:
        return sys.executable
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [
        *filter(None, (shutil.which(f"python3.{minor}") for minor in range(wanted[1], 20))),
        *glob.glob(f"{pyenv_root}/versions/3.*/bin/python3"),
    ]
    found = {}
    for candidate in candidates:
        done = subprocess.run(
            [candidate, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            found.setdefault(tuple(map(int, done.stdout.split())), candidate)
    suitable = sorted(version for version in found if version >= wanted)
    if suitable:
        return found[suitable[0]]
    raise StepFailed(f"The project needs Python {minimum} or newer, and none was found on PATH or in pyenv.")


def _ruff(project, _database_url):
    project.run("ruff", "check", "--no-cache", ".")
    return project.run("ruff", "format", "--no-cache", "--check", ".")


def _mypy(project, _database_url):
    # No cache written into the project (its files are compared across bakes).
    return project.run("mypy", "--cache-dir=/dev/null", "apps", "config")


def _lint_imports(project, _database_url):
    return project.run("lint-imports", "--no-cache")


def _check(project, database_url):
    return project.manage("check", "--fail-level", "WARNING", env=_database(database_url))


def _makemigrations(project, database_url):
    return project.manage("makemigrations", "--check", "--dry-run", env=_database(database_url))


def _migrate(project, database_url):
    with fresh_database(database_url, project.path) as url:
        done = project.manage("migrate", "--noinput", env={"DATABASE_URL": url})
        project.manage("migrate", "--check", env={"DATABASE_URL": url})
    return done


def _check_deploy(project, database_url):
    return project.manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION, **_database(database_url)}
    )


def _pytest(project, database_url):
    env = _database(database_url)
    if database_url:
        # A database of its own per project: pytest-django creates and drops test_<name> beside it.
        env["DATABASE_URL"] = _with_database_name(database_url, f"tpl_{project.digest[:10]}")
    # On every CPU, as the project's `make test` runs it (pytest-xdist, one test database per process).
    return project.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto", env=env)


STEPS = {
    "ruff": _ruff,
    "mypy": _mypy,
    "lint-imports": _lint_imports,
    "check": _check,
    "makemigrations": _makemigrations,
    "migrate": _migrate,
    "check --deploy": _check_deploy,
    "pytest": _pytest,
}

PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "service.example.com",
    "ADMIN_URL": "staff-area/",
}


def _database(database_url):
    return {"DATABASE_URL": database_url} if database_url else {}


def _with_database_name(url, name):
    return url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def fresh_database(server_url, folder):
    """A new, empty database for one migrate run: a SQLite file, or a PostgreSQL database created and dropped."""
    if not server_url:
        path = folder / f"fresh-{secrets.token_hex(4)}.sqlite3"
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in folder.glob(path.name + "*"):
                leftover.unlink()
        return
    name = f"tpl_fresh_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database_name(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_problem():
    """None when the PostgreSQL server answers, else the reason it does not."""
    try:
        with psycopg.connect(POSTGRES_SERVER, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return f"no PostgreSQL server answers at {POSTGRES_SERVER}: {str(error).strip()}"


def git_repository_of(project, destination):
    """A copy of the baked project as a fresh git repository with every file staged (as after `git init`)."""
    shutil.copytree(project.path, destination, ignore=shutil.ignore_patterns(".venv"))
    for command in (["git", "init", "--quiet"], ["git", "add", "--all"]):
        subprocess.run(command, cwd=destination, check=True)
    return destination
