"""Finish the baked project: drop the files of options not chosen, put uv.lock in order, write a local .env, and
say what to do next.

Runs inside the new project folder. Safe to run twice (cruft runs it again on every update): removing a file that is
gone is a no-op, sorting a sorted lock changes nothing, and an existing .env (with the secret a developer already
uses) is kept.
"""

import json
import os
import re
import runpy
import shutil
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | jsonify | tojson }})

FILES_OF_UNCHOSEN_OPTIONS = {
    "LICENSE": ANSWERS["open_source_license"] == "Not open source",
    "apps/accounts/managers.py": ANSWERS["username_type"] != "email",
    ".github": ANSWERS["ci_tool"] != "github",
    ".gitlab-ci.yml": ANSWERS["ci_tool"] != "gitlab",
}


def remove(path):
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def sort_lock(path=Path("uv.lock")):
    """uv.lock lists its packages by name, the project's own among them. The template cannot know where that entry
    goes until the name is answered, so it is moved here; tools/relock.py checks that uv writes the same order."""
    separator = "\n[[package]]\n"
    head, *packages = path.read_text(encoding="utf-8").split(separator)
    packages.sort(key=lambda block: re.match(r'name = "([^"]+)"', block)[1])
    path.write_text(separator.join([head, *packages]), encoding="utf-8")


def where_baked():
    """The project folder as the person who baked it would type it: relative to their shell's folder when inside it."""
    here = Path.cwd()
    relative = os.path.relpath(here, os.environ.get("PWD", here))
    return here if relative.startswith("..") else relative


NEXT_STEPS = """
Next steps:

    cd {folder}
    make run                                    # installs, migrates, serves on http://127.0.0.1:8000/
    .venv/bin/python manage.py createsuperuser  # an admin account for http://127.0.0.1:8000/admin/
"""


def main():
    for name, unchosen in FILES_OF_UNCHOSEN_OPTIONS.items():
        if unchosen:
            remove(Path(name))
    sort_lock()
    # The project's own script writes .env (a fresh SECRET_KEY); `make` reuses it on fresh clones.
    runpy.run_path("scripts/init_env.py", run_name="__main__")
    # The template's `make bake` installs and migrates the project after this hook, then prints the next steps
    # itself: printed here too, they would show twice.
    if os.environ.get("TEMPLATE_MAKE_BAKE") != "1":
        print(NEXT_STEPS.format(folder=where_baked()))


if __name__ == "__main__":
    main()
