"""Jinja filters: free-text answers turned into literals that stay valid wherever they are pasted.

Cookiecutter imports this module because cookiecutter.json lists it in `_extensions`. Project names,
descriptions and author names may hold quotes, backslashes, control characters, non-ASCII and emoji; pasting them
raw into Python or TOML source would break the baked project.

Keep every filter here as it is: `cruft update` renders the project's old template commit and the new one in one
Python process, and Python keeps the module it imported first (cruft issue #253). A filter renamed, removed or
changed here would break the update of projects baked before the change; add new filters in a new module (as
`answer_checks.py` was) instead.
"""

import re

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
def dist_name(value):
    """The distribution name as installers write it (PEP 503 normalised): uv.lock names the project this way."""
    return re.sub(r"[-_.]+", "-", str(value)).lower()
