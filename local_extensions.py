"""Jinja filters: free-text answers turned into literals that stay valid wherever they are pasted, and the one
check that must run before cookiecutter creates the project folder (an empty slug).

Cookiecutter imports this module because cookiecutter.json lists it in `_extensions`. Project names,
descriptions and author names may hold quotes, backslashes, control characters, non-ASCII and emoji; pasting them
raw into Python or TOML source would break the baked project.
"""

import re

import click
from cookiecutter.utils import simple_filter


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


@simple_filter
def required_slug(value):
    """The slug names the project folder, which cookiecutter creates before any hook can run: an empty one would
    make it write into the output folder itself. Refuse it here, while the answers are read, before anything is
    written. A ClickException is how cookiecutter's command line reports a bad answer: one line, no traceback."""
    if not str(value).strip():
        raise click.ClickException(
            "project_slug is empty; it must be a lowercase Python identifier such as my_service."
        )
    return value


@simple_filter
def dist_name(value):
    """The distribution name as installers write it (PEP 503 normalised): uv.lock names the project this way."""
    return re.sub(r"[-_.]+", "-", str(value)).lower()
