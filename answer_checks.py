"""The answers' checks, run while cookiecutter reads them: a bad answer stops the bake with one sentence.

cookiecutter.json's private `__project_dir` runs `checked_answers` once every answer is known. The answers are
checked here, and not in a pre-generation hook: a failing hook makes cookiecutter print a traceback of its own after
the hook's sentence, while a ClickException raised here is printed as one line, `Error: <sentence>`, before anything
is written. A value outside a choice's list (`django_version=4.2`) never reaches this module: cookiecutter refuses it
first, with a traceback that ends in its own sentence.

A module of its own, not a part of local_extensions.py: see that module's docstring (cruft keeps the first one).
"""

import keyword
import re
import sys
import zoneinfo

import click
from cookiecutter.utils import simple_filter

# Top-level modules the baked project imports or defines; a slug with one of these names would shadow it.
SHADOWED_MODULES = frozenset(
    {"apps", "config", "django", "environ", "manage", "psycopg", "pytest", "site", "test", "tests"}
    | set(sys.stdlib_module_names)
)
EMAIL_SHAPE = re.compile(r"^[^@\s\"'<>\\]+@[^@\s\"'<>\\]+\.[^@\s\"'<>\\.]+$")


def slug_problem(slug):
    if not slug.strip():
        return "project_slug is empty; it must be a lowercase Python identifier such as my_service."
    if not (slug.isidentifier() and slug.isascii() and slug == slug.lower()):
        return (
            f"project_slug {slug!r} is not a lowercase Python identifier "
            "(letters, digits and _, not starting with a digit)."
        )
    if slug.startswith("_") or slug.endswith("_"):
        return (
            f"project_slug {slug!r} starts or ends with _; it is also the package name, which must begin and end "
            "with a letter or digit."
        )
    if keyword.iskeyword(slug):
        return f"project_slug {slug!r} is a Python keyword; choose another name."
    if slug in SHADOWED_MODULES:
        return f"project_slug {slug!r} would shadow the module {slug!r} that the project imports; choose another name."
    return None


def email_problem(email):
    if not EMAIL_SHAPE.match(email):
        return f"author_email {email!r} is not an e-mail address of the form name@example.com."
    return None


def timezone_problem(name):
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return f"timezone {name!r} is not in the IANA time zone database (for example UTC or Europe/Paris)."
    return None


@simple_filter
def checked_answers(answers):
    """The project slug, once every answer is checked; the first bad one stops the bake with its sentence.

    The slug also names the project folder, which cookiecutter creates before any hook could run (an empty one would
    make it write into the output folder itself), so nothing is written before this check. A ClickException is how
    cookiecutter's command line reports a bad answer: one line, no traceback."""
    problems = (
        slug_problem(str(answers["project_slug"])),
        email_problem(str(answers["author_email"])),
        timezone_problem(str(answers["timezone"])),
    )
    problem = next((problem for problem in problems if problem), None)
    if problem:
        raise click.ClickException(problem)
    return answers["project_slug"]
