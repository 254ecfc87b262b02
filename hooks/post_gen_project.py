"""Finish the baked project: drop the files of options not chosen, then write a local .env.

Runs inside the new project folder. Safe to run twice: removing a file that is gone is a no-op, and an existing
.env (with the secret a developer already uses) is kept.
"""

import json
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


def main():
    for name, unchosen in FILES_OF_UNCHOSEN_OPTIONS.items():
        if unchosen:
            remove(Path(name))
    # The project's own script writes .env (a fresh SECRET_KEY, DEBUG on); `make` reuses it on fresh clones.
    runpy.run_path("scripts/init_env.py", run_name="__main__")


if __name__ == "__main__":
    main()
