"""The production path, run for real: scripts/release, then scripts/start-web (gunicorn + WhiteNoise) on a free
loopback port with DEBUG unset and the production variables set, for each Django version, on SQLite and PostgreSQL.

The browser and load tests run once per Django version, on PostgreSQL (the production engine). Their screenshots
and figures are written to out/artefacts/ (TEMPLATE_ARTEFACTS to choose another folder): browser-<django>/NN-*.png
and performance-<django>.json.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .baking import PRODUCTION, TEMPLATE, free_port, fresh_database, shell_environment

ARTEFACTS = Path(os.environ.get("TEMPLATE_ARTEFACTS") or TEMPLATE / "out" / "artefacts")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVERS = [("6.1", "sqlite"), ("6.1", "postgres"), ("5.2", "sqlite"), ("5.2", "postgres")]
POSTGRES_SERVERS = [server for server in SERVERS if server[1] == "postgres"]
# The server fixture is shared, per Django version and database, by the tests of this module.
on_every_server = pytest.mark.parametrize("server", SERVERS, indirect=True, ids=lambda s: f"django{s[0]}-{s[1]}")
once_per_django_version = pytest.mark.parametrize(
    "server", POSTGRES_SERVERS, indirect=True, ids=lambda s: f"django{s[0]}-{s[1]}"
)
ADMIN = "/" + PRODUCTION["ADMIN_URL"]
ONE_YEAR = 365 * 24 * 3600
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.(css|js)$")
LOAD = {"/healthz": 2000, ADMIN + "login/": 500}


def fetch(url, headers=None, timeout=10):
    """(status, headers, body) of a GET, without following redirects and without raising on 4xx/5xx."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback URLs of the test
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@dataclass
class Server:
    version: str
    database: str
    project: object
    env: dict
    url: str
    log: Path
    release_output: str
    username: str
    password: str


def production_environment(project, database_url, workdir):
    """DEBUG unset, the production variables set; plain HTTP on loopback, so no HTTPS redirect (BEHIND_TLS_PROXY
    and the redirect are what a real deployment behind a TLS proxy sets)."""
    environment = shell_environment()
    production = {key: value for key, value in PRODUCTION.items() if key != "DEBUG"}
    return {
        **environment,
        **production,
        "ALLOWED_HOSTS": "127.0.0.1, localhost",
        "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(workdir / "staticfiles"),
        "WEB_CONCURRENCY": "2",
        "PATH": f"{project.venv / 'bin'}{os.pathsep}{environment['PATH']}",
    }


@contextlib.contextmanager
def serving(command, cwd, env, port, log):
    """Run a server command in its own process group until the block ends; wait for /healthz to answer."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{command[0]} did not start:\n{log.read_text()[-4000:]}") from None
                time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_web(server_env, project, port, log):
    env = {**server_env, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"}
    return serving([str(project.path / "scripts" / "start-web")], project.path, env, port, log)


@contextlib.contextmanager
def released_and_serving(project, server_url, workdir):
    """The project as a deploy runs it: `scripts/release` on a fresh database, a superuser made by
    `createsuperuser --noinput` (as an operator would), then `scripts/start-web` on a free loopback port (its log in
    workdir/start-web.log). Yields (environment, port, the release's output, username, password)."""
    username, password = "operator", secrets.token_urlsafe(16)
    with fresh_database(server_url, workdir) as database_url:
        env = production_environment(project, database_url, workdir)
        release = subprocess.run(
            [project.path / "scripts" / "release"],
            cwd=project.path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert release.returncode == 0, release.stdout + release.stderr
        superuser = {
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_EMAIL": "operator@example.com",
            "DJANGO_SUPERUSER_PASSWORD": password,
        }
        subprocess.run(
            [project.venv / "bin" / "python", "manage.py", "createsuperuser", "--noinput"],
            cwd=project.path,
            env={**env, **superuser},
            check=True,
            capture_output=True,
        )
        port = free_port()
        with start_web(env, project, port, workdir / "start-web.log"):
            yield env, port, release.stdout, username, password


@pytest.fixture(scope="module")
def server(request, bakery, tmp_path_factory):
    version, database = request.param
    server_url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    project = bakery.installed(bakery.bake(django_version=version))
    workdir = tmp_path_factory.mktemp(f"production-{version}-{database}")
    with released_and_serving(project, server_url, workdir) as (env, port, release_output, username, password):
        yield Server(
            version,
            database,
            project,
            env,
            f"http://127.0.0.1:{port}",
            workdir / "start-web.log",
            release_output,
            username,
            password,
        )


@on_every_server
def test_release_migrates_and_collects_hashed_static_files(server):
    assert "Applying core.0001_initial... OK" in server.release_output
    assert "static files copied" in server.release_output
    manifest = json.loads((Path(server.env["STATIC_ROOT"]) / "staticfiles.json").read_text())
    assert HASHED_NAME.search(manifest["paths"]["admin/css/base.css"])


@on_every_server
def test_healthz_answers_ok_for_any_host(server):
    status, headers, body = fetch(server.url + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["Content-Type"] == "application/json"
    status, _, _ = fetch(server.url + "/healthz", headers={"Host": "10.20.30.40:8000"})
    assert status == 200


@on_every_server
def test_healthz_answers_503_when_the_database_is_unreachable(server, tmp_path):
    closed = free_port()
    env = {**server.env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/unreachable"}
    port = free_port()
    with start_web(env, server.project, port, tmp_path / "unreachable.log"):
        status, _, body = fetch(f"http://127.0.0.1:{port}/healthz")
    assert status == 503
    assert json.loads(body) == {"status": "error", "failing": {"database": "OperationalError"}}


@on_every_server
def test_the_admin_login_page_and_its_static_files_are_served_with_far_future_caching(server):
    status, _, body = fetch(server.url + ADMIN + "login/")
    assert status == 200
    page = body.decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)
    assert any(asset.endswith(".css") for asset in assets), page
    assert any(asset.endswith(".js") for asset in assets), page
    for asset in assets:
        assert HASHED_NAME.search(asset), f"{asset} is not a hashed name"
        status, headers, content = fetch(server.url + asset, headers={"Accept-Encoding": "gzip"})
        assert status == 200, asset
        assert content
        cache = headers["Cache-Control"]
        assert "immutable" in cache, (asset, cache)
        assert int(re.search(r"max-age=(\d+)", cache)[1]) >= ONE_YEAR, (asset, cache)
        assert headers["Content-Encoding"] == "gzip", asset


@on_every_server
def test_the_site_root_is_not_found_in_production(server):
    """The development home page is served only while DEBUG is on; the project routes `/` itself when it has one."""
    status, _, body = fetch(server.url + "/")
    assert status == 404
    assert b"README" not in body


# Configuration errors (config/settings.py): each stops every process with exactly its sentence and exit code 1.
CONFIGURATION_ERRORS = {
    "no-secret-key": (
        {"SECRET_KEY": ""},
        "Set the SECRET_KEY environment variable: it is required when DEBUG is off.",
    ),
    "bad-admin-url": (
        {"ADMIN_URL": "http://staff/"},
        "ADMIN_URL 'http://staff/' is not a path for the admin; use letters, digits, -, _ and /, e.g. staff-a8f3/.",
    ),
    "bad-log-level": (
        {"LOG_LEVEL": "verbose"},
        "LOG_LEVEL 'verbose' is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL.",
    ),
}
PROCESSES = {
    "manage.py": ["python", "manage.py", "migrate", "--noinput"],
    "gunicorn": ["scripts/start-web"],
    "worker": ["scripts/start-worker", "--burst"],
}


@pytest.mark.parametrize("error", CONFIGURATION_ERRORS.values(), ids=CONFIGURATION_ERRORS.keys())
@pytest.mark.parametrize("process", PROCESSES.values(), ids=PROCESSES.keys())
def test_a_configuration_error_is_one_line_on_stderr_and_exit_code_1(bakery, tmp_path, process, error):
    project = bakery.installed(bakery.bake())
    settings, sentence = error
    env = production_environment(project, f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    command = [str(project.venv / "bin" / "python"), *process[1:]] if process[0] == "python" else process
    done = subprocess.run(
        command,
        cwd=project.path,
        env={**env, **settings, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{free_port()}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (1, sentence + "\n")


@on_every_server
def test_the_access_log_has_one_line_per_request_with_the_request_id_and_no_probes(server):
    marker = f"req-{secrets.token_hex(4)}"
    fetch(server.url + ADMIN + "login/", headers={"X-Request-ID": marker})
    for _ in range(3):
        fetch(server.url + "/healthz")
    time.sleep(0.5)
    log = server.log.read_text()
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 1, log[-3000:]
    assert f'"GET {ADMIN}login/ HTTP/1.1" 200' in lines[0]
    assert "GET /healthz" not in log


def _browse(server, folder, user_data_dir):
    from playwright.sync_api import sync_playwright

    shots = []

    def shot(page, name):
        path = folder / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        shots.append(path)

    base = server.url.replace("127.0.0.1", "localhost")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = context.new_page()
            page.goto(base + ADMIN + "login/")
            shot(page, "login")
            page.fill("#id_username", server.username)
            page.fill("#id_password", server.password)
            page.click("input[type=submit]")
            page.wait_for_url(base + ADMIN)
            shot(page, "admin-index")
            page.goto(base + ADMIN + "core/task/add/")
            page.fill("#id_name", "Import the November invoices")
            page.fill("#id_task_ingestor", "invoices")
            shot(page, "task-add")
            page.click("input[name=_save]")
            page.wait_for_url(base + ADMIN + "core/task/")
            shot(page, "task-list")
            page.locator("input.action-select").first.check()
            page.select_option("select[name=action]", "start_processing")
            page.click("button[name=index]")
            page.wait_for_selector("ul.messagelist li")
            messages = page.locator("ul.messagelist li.success").all_inner_texts()
            shot(page, "task-started")
            row_status = page.locator("#result_list tbody tr").first.inner_text()
            styles = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
        finally:
            context.close()
    return shots, messages, row_status, styles


@once_per_django_version
def test_a_real_browser_signs_in_creates_a_task_and_starts_it(server, tmp_path):
    folder = ARTEFACTS / f"browser-{server.version}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shots, messages, row_status, header_colour = _browse(server, folder, tmp_path / "chromium-profile")
    assert [path.name for path in shots] == [
        "01-login.png",
        "02-admin-index.png",
        "03-task-add.png",
        "04-task-list.png",
        "05-task-started.png",
    ]
    assert all(path.stat().st_size > 5000 for path in shots)
    assert len(messages) == 1, messages  # the admin's success message for the action (e.g. "Started 1 task.")
    assert "1 task" in messages[0], messages
    assert "Processing" in row_status
    assert header_colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), "the admin's CSS did not apply"


def _load(url, count):
    done = subprocess.run(
        [
            sys.executable,
            str(TEMPLATE / "tests" / "load.py"),
            url,
            str(count),
            "--concurrency",
            "8",
            "--deadline",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return json.loads(done.stdout)


@once_per_django_version
def test_a_load_from_another_process_gets_no_error_and_is_measured_against_runserver(server, tmp_path):
    results = {"gunicorn": {}, "runserver": {}}
    for path, count in LOAD.items():
        results["gunicorn"][path] = _load(server.url + path, count)
    port = free_port()
    command = [
        str(server.project.venv / "bin" / "python"),
        "manage.py",
        "runserver",
        f"127.0.0.1:{port}",
        "--noreload",
    ]
    # As Django advises for the development server: no persistent connections (it starts a thread per request).
    env = {**server.env, "CONN_MAX_AGE": "0"}
    with serving(command, server.project.path, env, port, tmp_path / "runserver.log"):
        for path, count in LOAD.items():
            results["runserver"][path] = _load(f"http://127.0.0.1:{port}{path}", count)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / f"performance-{server.version}.json").write_text(json.dumps(results, indent=2))
    print(f"\nDjango {server.version}, PostgreSQL, 8 client threads; gunicorn WEB_CONCURRENCY=2")
    print(f"{'server':<10} {'path':<22} {'requests':>8} {'req/s':>8} {'median ms':>10} {'p99 ms':>8}")
    for name, by_path in results.items():
        for path, figures in by_path.items():
            print(
                f"{name:<10} {path:<22} {figures['requests']:>8} {figures['requests_per_second']:>8} "
                f"{figures['median_ms']:>10} {figures['p99_ms']:>8}"
            )
    for name, by_path in results.items():
        for path, figures in by_path.items():
            assert figures["requests"] == LOAD[path], (name, path, figures)
            assert (figures["errors"], figures["non_200"]) == (0, 0), (name, path, figures)


# The container recipes: no Docker engine runs here, so they are linted and parsed, and every command they run is
# one of the scripts that the tests above run for real (start-worker: the worker's own tests run it).
SCRIPTS = {"scripts/release", "scripts/start-web", "scripts/start-worker"}
HADOLINT = Path(sys.executable).with_name("hadolint")


@pytest.mark.parametrize("django_version", ["6.1", "5.2"])
def test_the_dockerfile_passes_hadolint(bakery, django_version):
    project = bakery.bake(django_version=django_version)
    done = subprocess.run(
        [HADOLINT, "--no-color", "Dockerfile"], cwd=project.path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("django_version", "python"), [("6.1", "3.12"), ("5.2", "3.11")])
def test_the_dockerfile_builds_from_the_lock_and_runs_the_web_script_as_a_non_root_user(
    bakery, django_version, python
):
    dockerfile = bakery.bake(django_version=django_version).text("Dockerfile")
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages == [(f"python:{python}-slim-bookworm", "build"), (f"python:{python}-slim-bookworm", "runtime")]
    assert dockerfile.count("uv sync --locked --no-dev") == 2
    assert "manage.py collectstatic --noinput" in dockerfile
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert dockerfile.rstrip().endswith('CMD ["scripts/start-web"]')
    assert dockerfile.startswith("# syntax=docker/dockerfile:1\n")


def commands_of(project):
    """{process: command} from compose.yaml's services (but the database) and from the Procfile."""
    compose = yaml.safe_load(project.text("compose.yaml"))
    from_compose = {
        name: " ".join(service["command"]) for name, service in compose["services"].items() if name != "db"
    }
    from_procfile = dict(line.split(": ", 1) for line in project.text("Procfile").splitlines() if line)
    return compose, from_compose, from_procfile


def test_compose_and_the_procfile_run_only_the_scripts(default_project):
    compose, from_compose, from_procfile = commands_of(default_project)
    expected = {"release": "scripts/release", "web": "scripts/start-web", "worker": "scripts/start-worker"}
    assert from_compose == expected
    assert from_procfile == expected
    for script in SCRIPTS:
        path = default_project.path / script
        assert path.is_file(), f"{script} is missing"
        assert os.access(path, os.X_OK), f"{script} is not executable"
        assert path.read_text().startswith("#!/bin/sh\n"), script
    services = compose["services"]
    assert services["web"]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    assert services["release"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["db"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "postgres-data" in compose["volumes"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://my_service:")


def test_compose_builds_one_image_that_its_three_services_run(default_project):
    services = yaml.safe_load(default_project.text("compose.yaml"))["services"]
    app_services = ("release", "web", "worker")
    assert [name for name, service in services.items() if "build" in service] == ["release"]
    assert services["release"]["build"] == "."
    assert {services[name]["image"] for name in app_services} == {"my_service:latest"}
