"""The template README's quick start, run as written on a machine with only Python, make and git: a fresh clone of
the template (no cookiecutter and no uv on PATH; uv's cache warm, as after any earlier install), `make bake` with
the default answers and with the README's own ARGS, each printing its next steps once, `make run` serving the
development home page, and cookiecutter run the README's other ways.

The README's address (`https://github.com/org/template.git`, `gh:org/template`) stands for the real one; here it is
a git repository of this template's files as they are.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .baking import TEMPLATE, free_port, shell_environment

README_ADDRESSES = ("https://github.com/org/template.git", "gh:org/template")
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "out", "__pycache__", ".ruff_cache", ".pytest_cache")
# Enough empty lines to take the default answer of every prompt of cookiecutter.json.
EVERY_DEFAULT = "\n" * 20


def quick_start_blocks():
    """The `sh` blocks of the README's "Quick start" section, each as its command lines without comments."""
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [[line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()] for block in blocks]


def bare_path():
    """PATH without cookiecutter and uv: the machine the quick start is written for."""
    kept = [
        folder
        for folder in os.environ["PATH"].split(os.pathsep)
        if not any((Path(folder) / tool).exists() for tool in ("cookiecutter", "uv", "uvx"))
    ]
    return os.pathsep.join(kept)


def environment(**extra):
    environment = shell_environment(**{"PATH": bare_path(), **extra})
    for variable in ("MAKEFLAGS", "MAKELEVEL"):
        environment.pop(variable, None)
    return environment


def as_here(command, origin):
    for address in README_ADDRESSES:
        command = command.replace(address, str(origin))
    return command


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The template as a git repository, committed, to clone from."""
    repository = tmp_path_factory.mktemp("origin") / "template"
    shutil.copytree(TEMPLATE, repository, ignore=NOT_COPIED, symlinks=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "template"]):
        subprocess.run([*git, *command], cwd=repository, check=True)
    return repository


def serve_until_ready(command, cwd, env):
    """Start `command` in a shell and return (process, output) once it prints "Serving on" (or exits)."""
    process = subprocess.Popen(  # noqa: S602 - the README's own command line
        command,
        shell=True,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Serving on"):
            break
    return process, "".join(lines)


def get_page(url, attempts=50):
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL of the test
                return response.status, response.read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@pytest.fixture(scope="module")
def quick_start(origin, tmp_path_factory):
    """The first block run line by line as a shell would run it (`cd` moves on); `make run` is started, its home
    page fetched, and stopped. Returns the clone and what each command printed."""
    cwd = tmp_path_factory.mktemp("newcomer")
    port = free_port()
    env = environment(ADDRESS=f"127.0.0.1:{port}")
    outputs = {}
    for command in quick_start_blocks()[0]:
        command = as_here(command, origin)
        if command.startswith("cd "):
            cwd = cwd / command.removeprefix("cd ")
            continue
        if command == "make run":
            process, output = serve_until_ready(command, cwd, env)
            try:
                outputs[command] = (output, *get_page(f"http://127.0.0.1:{port}/"))
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            continue
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S602 - the README's own command line
            command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        print(f"quick start: {command} took {time.perf_counter() - started:.1f} s")
        outputs[command] = done.stdout
    return origin, cwd, outputs


def test_the_quick_start_names_the_commands_this_test_runs():
    first, second = quick_start_blocks()
    assert first[0].startswith("git clone https://github.com/org/template.git")
    assert "make bake" in first
    assert "make bake ARGS=\"project_name='Billing'\"" in first
    assert first[-1] == "make run"
    assert [command.split()[0] for command in second] == ["uvx", "pipx", ".venv/bin/cookiecutter"]


def test_make_bake_bakes_installs_and_prints_its_next_steps_once(quick_start):
    _origin, _cwd, outputs = quick_start
    for command, folder in (("make bake", "my_service"), ("make bake ARGS=\"project_name='Billing'\"", "billing")):
        output = outputs[command]
        assert output.count("Next steps") == 1, output
        assert f"Baked out/{folder} and installed it from its uv.lock. Next steps:" in output
        assert f"    cd out/{folder}\n" in output
        assert "Applying accounts.0001_initial... OK" in output


def test_make_run_serves_the_development_home_page(quick_start):
    _origin, _cwd, outputs = quick_start
    output, status, page = outputs["make run"]
    assert "Serving on http://127.0.0.1:" in output, output
    assert status == 200
    assert "<h1>My Service</h1>" in page
    assert 'href="/admin/"' in page
    assert 'href="/healthz"' in page
    assert 'href="#environment-variables"' in page


def test_cookiecutter_runs_the_readme_s_other_ways_without_being_installed(quick_start, tmp_path):
    """uvx with uv on PATH (its cache warm), pipx where this machine has it, and the clone's own cookiecutter."""
    origin, project, _outputs = quick_start
    clone = project.parent.parent
    uv_tools = tmp_path / "uv-only"
    uv_tools.mkdir()
    for tool in ("uv", "uvx"):
        (uv_tools / tool).symlink_to(Path(sys.executable).with_name(tool))
    ways = {
        "uvx": environment(PATH=f"{uv_tools}{os.pathsep}{bare_path()}"),
        "pipx": environment(PATH=os.environ["PATH"]) if shutil.which("pipx") else None,
        ".venv/bin/cookiecutter": environment(),
    }
    ran = []
    for command in quick_start_blocks()[1]:
        env = ways[command.split()[0]]
        if env is None:
            continue
        where = clone if command.startswith(".venv/") else tmp_path / command.split()[0]
        where.mkdir(exist_ok=True)
        done = subprocess.run(  # noqa: S602 - the README's own command line
            as_here(command, origin),
            shell=True,
            cwd=where,
            env=env,
            input=EVERY_DEFAULT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        baked = (where / ".." / "my_service") if command.startswith(".venv/") else where / "my_service"
        assert (baked / "manage.py").is_file(), command
        assert done.stdout.count("Next steps:") == 1, done.stdout
        ran.append(command.split()[0])
        shutil.rmtree(baked)
    assert {"uvx", ".venv/bin/cookiecutter"} <= set(ran)
