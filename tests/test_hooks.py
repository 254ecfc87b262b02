"""Answers the template refuses: one sentence naming the value and the rule, and nothing left behind.

answer_checks.py checks them while cookiecutter reads them, so cookiecutter prints the sentence as one line,
`Error: ...`, with no traceback. A value outside a choice's list is refused by cookiecutter itself, with a traceback
the template cannot prevent (the README says so)."""

import subprocess
import sys
from pathlib import Path

import pytest

from .baking import TEMPLATE

COOKIECUTTER = Path(sys.executable).with_name("cookiecutter")


def bake_cli(output_dir, *answers, extra=()):
    """Run the cookiecutter command line as a user does."""
    return subprocess.run(
        [COOKIECUTTER, str(TEMPLATE), "--no-input", "--output-dir", str(output_dir), *extra, *answers],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("project_slug=My-Service", "project_slug 'My-Service' is not a lowercase Python identifier"),
        ("project_slug=MyService", "project_slug 'MyService' is not a lowercase Python identifier"),
        ("project_slug=1service", "project_slug '1service' is not a lowercase Python identifier"),
        ("project_slug=my service", "project_slug 'my service' is not a lowercase Python identifier"),
        ("project_slug=café", "project_slug 'café' is not a lowercase Python identifier"),
        ("project_slug=class", "project_slug 'class' is a Python keyword"),
        ("project_slug=_private", "project_slug '_private' starts or ends with _; it is also the package name"),
        ("project_slug=service_", "project_slug 'service_' starts or ends with _; it is also the package name"),
        ("project_slug=django", "project_slug 'django' would shadow the module 'django'"),
        ("project_slug=config", "project_slug 'config' would shadow the module 'config'"),
        ("project_slug=apps", "project_slug 'apps' would shadow the module 'apps'"),
        ("project_slug=test", "project_slug 'test' would shadow the module 'test'"),
        ("project_slug=site", "project_slug 'site' would shadow the module 'site'"),
        ("project_slug=json", "project_slug 'json' would shadow the module 'json'"),
        ("author_email=not-an-address", "author_email 'not-an-address' is not an e-mail address"),
        ("author_email=a@b", "author_email 'a@b' is not an e-mail address"),
        ("author_email=two@@example.com", "author_email 'two@@example.com' is not an e-mail address"),
        ("timezone=Mars/Olympus_Mons", "timezone 'Mars/Olympus_Mons' is not in the IANA time zone database"),
        ("timezone=../../etc/passwd", "timezone '../../etc/passwd' is not in the IANA time zone database"),
    ],
)
def test_a_bad_answer_is_refused_with_one_clear_sentence(tmp_path, answer, message):
    done = bake_cli(tmp_path, answer)
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: {message}"), done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == [], "a refused bake must leave nothing in the output folder"


def test_a_choice_outside_its_list_is_refused_by_cookiecutter_with_its_traceback(tmp_path):
    """What the template README warns about: cookiecutter checks choices before the template's code can run."""
    done = bake_cli(tmp_path, "django_version=4.2")
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "ValueError: 4.2 provided for choice variable django_version, but the choices are ['6.1', '5.2']."
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("slug", ["", "   "])
def test_an_empty_slug_is_refused_before_the_project_folder_is_made(tmp_path, slug):
    """The folder is named after the slug and made before the hooks run, so the answer is checked while it is read."""
    done = bake_cli(tmp_path, f"project_slug={slug}")
    assert done.returncode != 0
    assert done.stderr == (
        "Error: project_slug is empty; it must be a lowercase Python identifier such as my_service.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_derived_slug_that_is_invalid_is_refused(tmp_path):
    done = bake_cli(tmp_path, "project_name=2048 Game")
    assert "project_slug '2048_game' is not a lowercase Python identifier" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_slug_is_derived_from_the_name(tmp_path):
    done = bake_cli(tmp_path, "project_name=Billing Café API")
    assert done.returncode == 0, done.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["billing_cafe_api"]


def test_baking_over_an_existing_folder_is_refused_and_leaves_it_untouched(tmp_path):
    existing = tmp_path / "my_service"
    existing.mkdir()
    (existing / "notes.txt").write_text("precious work\n")
    done = bake_cli(tmp_path)
    assert done.returncode != 0
    assert f'Error: "{existing}" directory already exists' in done.stdout
    assert [path.name for path in existing.iterdir()] == ["notes.txt"]
    assert (existing / "notes.txt").read_text() == "precious work\n"


def test_the_post_generation_hook_keeps_an_existing_env_file(tmp_path):
    """cruft and --overwrite-if-exists re-run the hooks: a developer's .env (and its secret) must survive."""
    assert bake_cli(tmp_path).returncode == 0
    env_file = tmp_path / "my_service" / ".env"
    env_file.write_text("SECRET_KEY=the-one-in-use\n")
    done = bake_cli(tmp_path, extra=["--overwrite-if-exists"])
    assert done.returncode == 0, done.stderr
    assert env_file.read_text() == "SECRET_KEY=the-one-in-use\n"
