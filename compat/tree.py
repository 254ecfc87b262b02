"""A runnable copy of Django's tests in which the labels under test use a base model of the baked project.

The unpacked sdist stays untouched: the copy links every entry of it, except
- the labels under test, copied, with their models switched to the base model (`transform.py`);
- `runtests.py`, copied with the project's `apps.core` added to the apps it always installs;
- `apps/` (Django's tests of the app registry), left out: its package name would shadow the project's `apps`;
and adds the settings module and the recording test runner from `inside/`.
"""

import ast
import shutil
from pathlib import Path

from .errors import CompatError
from .transform import switch_package

INSIDE = Path(__file__).resolve().parent / "inside"
PROJECT_APPS = ("apps.core",)
SHADOWING = ("apps",)


def build(django_tests, destination, base, labels):
    """Lay out the tree in `destination` (a new folder); {label: {module: [switched model names]}}. With base None
    (the control run) the labels are copied unchanged."""
    destination.mkdir(parents=True)
    switched = {}
    for entry in sorted(Path(django_tests).iterdir()):
        target = destination / entry.name
        if entry.name in SHADOWING:
            continue
        if entry.name == "runtests.py":
            target.write_text(install_project_apps(entry.read_text(encoding="utf-8")), encoding="utf-8")
        elif entry.name in labels:
            shutil.copytree(entry, target, ignore=shutil.ignore_patterns("__pycache__"))
            switched[entry.name] = switch_package(target, base) if base else {}
        else:
            target.symlink_to(entry)
    missing = sorted(set(labels) - set(switched))
    if missing:
        raise CompatError(f"Django's tests have no package named {', '.join(missing)}.")
    for module in INSIDE.glob("*.py"):
        shutil.copy(module, destination / module.name)
    return switched


def install_project_apps(source):
    """runtests.py with the project's apps appended to ALWAYS_INSTALLED_APPS, right after the list is defined."""
    tree = ast.parse(source)
    assignment = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == "ALWAYS_INSTALLED_APPS" for target in node.targets)
        ),
        None,
    )
    if assignment is None:
        raise CompatError("runtests.py no longer defines ALWAYS_INSTALLED_APPS; the harness needs updating.")
    lines = source.splitlines(keepends=True)
    added = f"ALWAYS_INSTALLED_APPS.extend({list(PROJECT_APPS)!r})  # added by the template's compatibility check\n"
    lines.insert(assignment.end_lineno, added)
    return "".join(lines)
