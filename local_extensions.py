"""Jinja filters: free-text answers turned into literals that stay valid wherever they are pasted, and the checks
that refuse answers which would bake a broken project.

Cookiecutter imports this module because cookiecutter.json lists it in `_extensions`. Project names,
descriptions and author names may hold quotes, backslashes, control characters, non-ASCII and emoji; pasting them
raw into Python or TOML source would break the baked project.

The answers are checked here, while cookiecutter reads them (cookiecutter.json's private `__project_dir` runs
`checked_answers` once every answer is known), and not in a pre-generation hook: a failing hook makes cookiecutter
print a traceback of its own after the hook's sentence, while a ClickException raised here is printed as one line,
`Error: <sentence>`, before anything is written. A value outside a choice's list (`django_version=4.2`) never
reaches this module: cookiecutter refuses it first, with a traceback that ends in its own sentence.
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


def _escape(text, quote):
    out = []
    for char in text:
        if char in ("\\", quote):
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


@simple_filter
def py_string(value):
    """A Python string literal quoted as `ruff format` keeps it: double quotes unless that needs more escapes."""
    text = str(value)
    quote = "'" if text.count('"') > text.count("'") else '"'
    return quote + _escape(text, quote) + quote


@simple_filter
def toml_string(value):
    """A TOML basic string (escapes are \\\\, \\" and \\uXXXX; TOML refuses raw control characters)."""
    out = []
    for char in str(value):
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


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


@simple_filter
def dist_name(value):
    """The distribution name as installers write it (PEP 503 normalised): uv.lock names the project this way."""
    return re.sub(r"[-_.]+", "-", str(value)).lower()
