"""Write the baked project's uv.lock template, `{{cookiecutter.project_slug}}/uv.lock`, with uv.

A baked project installs from its lock file, and that file depends on two answers: the project's name (uv.lock
lists the project itself among its packages) and `django_version` (Django 6.1 and 5.2 resolve different trees,
for different Pythons). This tool bakes the template once per Django version, runs `uv lock` in each bake (keeping
the versions already pinned, unless --upgrade), and writes one Jinja file holding both locks with the project's name
as a template expression. The post-generation hook then moves the project's entry to its place in uv's name order.

    make lock             # after changing the baked pyproject.toml's dependencies
    make lock UPGRADE=1   # move every pin to the newest version allowed
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.baking import TEMPLATE, UV, BakedProject, python_for

LOCK_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
DJANGO_VERSIONS = ("6.1", "5.2")
PLACEHOLDER_SLUG = "lockproject"
NAME_EXPRESSION = 'name = "{{ cookiecutter.project_slug | dist_name }}"'
PACKAGE_SEPARATOR = "\n[[package]]\n"


def sorted_lock(text):
    """The lock with its packages in uv's order (by name): the post-generation hook applies the same sort."""
    head, *packages = text.split(PACKAGE_SEPARATOR)
    packages.sort(key=lambda block: re.match(r'name = "([^"]+)"', block)[1])
    return PACKAGE_SEPARATOR.join([head, *packages])


def locked(django_version, workdir, upgrade):
    path = Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(workdir / django_version),
            extra_context={"project_slug": PLACEHOLDER_SLUG, "django_version": django_version},
        )
    )
    project = BakedProject(path, {"django_version": django_version})
    command = [str(UV), "lock", "--quiet", "--python", python_for(project)]
    if upgrade:
        command.append("--upgrade")
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(command, cwd=path, env=environment, check=True)
    text = (path / "uv.lock").read_text(encoding="utf-8")
    if sorted_lock(text) != text:
        raise SystemExit("uv.lock is not in the order the post-generation hook restores; update sorted_lock().")
    if re.search(r"\{[{%#]|[%#]\}", text):
        raise SystemExit(f"The Django {django_version} lock holds text that Jinja would read as a tag.")
    own_name = f'name = "{PLACEHOLDER_SLUG}"'
    if text.count(own_name) != 1:
        raise SystemExit(f"Expected the project's name exactly once in the Django {django_version} lock.")
    return text.replace(own_name, NAME_EXPRESSION).rstrip("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    upgrade = parser.parse_args().upgrade
    with tempfile.TemporaryDirectory() as workdir:
        locks = {version: locked(version, Path(workdir), upgrade) for version in DJANGO_VERSIONS}
    parts = []
    for index, (version, text) in enumerate(locks.items()):
        keyword = "if" if index == 0 else "elif"
        parts.append(f'{{%- {keyword} cookiecutter.django_version == "{version}" -%}}\n{text}\n')
    LOCK_TEMPLATE.write_text("".join(parts) + "{%- endif %}\n", encoding="utf-8")
    print(f"Wrote {LOCK_TEMPLATE.relative_to(TEMPLATE)} for Django {', '.join(locks)}.")


if __name__ == "__main__":
    main()
