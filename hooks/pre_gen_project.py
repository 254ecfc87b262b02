"""Refuse answers that would bake a broken project.

Cookiecutter removes the half-made output folder when this hook exits non-zero, so a refused answer leaves
nothing behind. Answers arrive as one JSON document inside a string literal (never pasted raw into source), so
quotes, backslashes and non-ASCII in any answer cannot break this file.
"""

import json
import keyword
import re
import sys
import zoneinfo

ANSWERS = json.loads({{ cookiecutter | jsonify | tojson }})

# Top-level modules the baked project imports or defines; a slug with one of these names would shadow it.
SHADOWED_MODULES = frozenset(
    {"apps", "config", "django", "environ", "manage", "psycopg", "pytest", "site", "test", "tests"}
    | set(sys.stdlib_module_names)
)
EMAIL_SHAPE = re.compile(r"^[^@\s\"'<>\\]+@[^@\s\"'<>\\]+\.[^@\s\"'<>\\.]+$")


def slug_problem(slug):
    if not slug:
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


def main():
    problems = [
        slug_problem(ANSWERS["project_slug"]),
        email_problem(ANSWERS["author_email"]),
        timezone_problem(ANSWERS["timezone"]),
    ]
    problem = next((p for p in problems if p), None)
    if problem:
        print(f"ERROR: {problem}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
