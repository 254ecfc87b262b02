"""Create an app in apps/ that is ready to use: `make app name=notes [model=Note] [base=timestamped]`.

Django's own `startapp` renders the app's files into apps/<name>/ (it also refuses a name that is not an identifier
or that shadows an installed module): scripts/app_template/ (what every app has) with the model, admin and test of
the chosen base from scripts/app_bases/<base>/ laid over it. Then this script names the model, adds the app to
INSTALLED_APPS in config/settings.py, and runs `makemigrations` for it. The result: an AppConfig named
"apps.<name>", a model on the chosen base, its admin, the first migration and a test.

The bases: timestamped (TimestampedModel: audited and soft-deleted; TimestampedAdminMixin), trackable
(TrackableModel: audited; TrackableAdminMixin) and plain (models.Model; a plain ModelAdmin).
"""

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "config" / "settings.py"
PLACEHOLDER = "AppModel"
TEMPLATE = ROOT / "scripts" / "app_template"
BASES = ROOT / "scripts" / "app_bases"
BASE_NAMES = ("timestamped", "trackable", "plain")


def model_name_for(app_name):
    """notes -> Note, order_items -> OrderItem: the app's name, CamelCased and singular (a trailing "s" dropped)."""
    camel = "".join(part.capitalize() for part in app_name.split("_"))
    return camel[:-1] if camel.endswith("s") and len(camel) > 1 else camel


def fail(message):
    print(f"make app: {message}", file=sys.stderr)
    sys.exit(1)


def manage(*args):
    # A process of its own each time: makemigrations must see the settings as they are after the app was added.
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=False)  # noqa: S603 - checked names
    if done.returncode:
        sys.exit(done.returncode)


def app_template(base, folder):
    """The template startapp renders: the common files, with the chosen base's model, admin and test over them."""
    template = folder / "app_template"
    shutil.copytree(TEMPLATE, template)
    shutil.copytree(BASES / base, template, dirs_exist_ok=True)
    return template


def add_to_installed_apps(app_name):
    """Insert "apps.<name>" as the last entry of the INSTALLED_APPS list in settings.py, keeping its comments."""
    source = SETTINGS.read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "INSTALLED_APPS":
            break
    else:
        fail("config/settings.py has no INSTALLED_APPS list to add the app to.")
    if not isinstance(node.value, ast.List) or node.value.end_lineno == node.value.lineno:
        fail("INSTALLED_APPS in config/settings.py is not a list written over several lines; add the app by hand.")
    lines = source.splitlines(keepends=True)
    closing = node.value.end_lineno - 1  # the line with the closing bracket
    lines.insert(closing, f'    "apps.{app_name}",\n')
    SETTINGS.write_text("".join(lines), encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description="Create an app in apps/.")
    parser.add_argument("name", help="the app's name, a lowercase Python identifier, e.g. notes")
    parser.add_argument("--model", help="the model's class name (default: from the app's name, e.g. Note)")
    parser.add_argument(
        "--base",
        choices=BASE_NAMES,
        default="timestamped",
        help="what the model is built on: TimestampedModel (the default), TrackableModel or a plain models.Model",
    )
    options = parser.parse_args()
    name = options.name
    model = options.model or model_name_for(name)
    if not (name.isidentifier() and name.isascii() and name == name.lower()):
        fail(f"{name!r} is not a lowercase Python identifier (letters, digits and _, not starting with a digit).")
    if not (model.isidentifier() and model.isascii() and model[0].isupper()):
        fail(f"model {model!r} is not a class name (a Python identifier starting with a capital letter).")
    target = ROOT / "apps" / name
    if target.exists():
        fail(f"apps/{name} already exists; choose another name.")

    target.mkdir()
    try:
        with tempfile.TemporaryDirectory() as folder:
            manage("startapp", "--template", str(app_template(options.base, Path(folder))), name, str(target))
    except BaseException:
        if not any(target.iterdir()):
            target.rmdir()
        raise
    for path in target.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(PLACEHOLDER, model).replace(PLACEHOLDER.lower(), model.lower()))
    add_to_installed_apps(name)
    manage("makemigrations", name, "--verbosity", "1")
    print(
        f"Created apps/{name} (model {model} on {options.base}) and added it to INSTALLED_APPS. "
        "Next: make migrate, make test."
    )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
