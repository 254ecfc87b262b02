#!/usr/bin/env python
"""Bake the template with its defaults into a temporary directory (timing the bake, median of 5), create a virtual
environment holding the baked project and bench/requirements.txt, then run bench/run.py on it.

    python bench/bake_and_run.py [--quick] [--postgres-url URL] [--keep]

Uses the template's own tools when present: <template>/.venv/bin/cookiecutter and <template>/.venv/bin/uv (pinned in
requirements-dev.txt); otherwise `python -m cookiecutter` and `python -m venv` + pip. Exits with run.py's status.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parent
TEMPLATE = BENCH.parent
TOOLS = TEMPLATE / ".venv" / "bin"


def run(command, **kwargs):
    print("+ " + " ".join(str(part) for part in command), flush=True)
    return subprocess.run([str(part) for part in command], check=True, **kwargs)


def cookiecutter_command():
    if (TOOLS / "cookiecutter").exists():
        return [TOOLS / "cookiecutter"]
    return [sys.executable, "-m", "cookiecutter"]


def bake(output_dir):
    """Bake the template with its defaults into output_dir; return (seconds, project folder)."""
    output_dir.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(
        [*map(str, cookiecutter_command()), str(TEMPLATE), "--no-input", "-o", str(output_dir)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    (project,) = [path for path in output_dir.iterdir() if (path / "manage.py").is_file()]
    return seconds, project


def python_for(project):
    """An interpreter the baked project accepts (Django 6.1 needs Python 3.12+): the template tests' own choice."""
    sys.path.insert(0, str(TEMPLATE))
    from tests.baking import python_for as choose

    return choose(SimpleNamespace(text=lambda relative: (project / relative).read_text(encoding="utf-8")))


def make_venv(venv, project):
    """A virtual environment with the baked project (editable, with its dev extras) and the benchmark's extras."""
    uv = TOOLS / "uv" if (TOOLS / "uv").exists() else shutil.which("uv")
    requirements = BENCH / "requirements.txt"
    interpreter = python_for(project)
    if uv:
        run([uv, "venv", "--quiet", "--python", interpreter, venv])
        python = venv / "bin" / "python"
        run([uv, "pip", "install", "--quiet", "--python", python, "-e", f"{project}[dev]", "-r", requirements])
    else:
        run([interpreter, "-m", "venv", venv])
        python = venv / "bin" / "python"
        run([python, "-m", "pip", "install", "--quiet", "-e", f"{project}[dev]", "-r", requirements])
    return python


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="passed to run.py: a smoke run, well under a minute")
    parser.add_argument("--postgres-url", help="passed to run.py (default: its own)")
    parser.add_argument("--bakes", type=int, default=5, help="bakes to time (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print where it is")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        timings = []
        project = None
        for i in range(max(args.bakes, 1)):
            seconds, baked = bake(workdir / f"bake{i}")
            timings.append(seconds)
            project = project or baked
        print(
            f"Baked {TEMPLATE} {len(timings)} times: median {statistics.median(timings):.2f} s "
            f"({', '.join(f'{s:.2f}' for s in timings)})",
            flush=True,
        )
        python = make_venv(workdir / "venv", project)
        command = [
            python,
            BENCH / "run.py",
            "--project",
            project,
            "--bake-times",
            ",".join(f"{s:.4f}" for s in timings),
        ]
        if args.quick:
            command.append("--quick")
        if args.postgres_url:
            command += ["--postgres-url", args.postgres_url]
        env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
        return subprocess.run([str(part) for part in command], env=env, check=False).returncode
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
