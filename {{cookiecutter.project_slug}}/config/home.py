"""GET /: a development home page, served only while DEBUG is on.

`make run` prints http://127.0.0.1:8000/, and a project without views of its own would answer that address with
Django's 404 page. While DEBUG is on, `/` shows the project's name, links to the admin and to /healthz, and the
project's README, section by section. With DEBUG off (production) it answers 404, as any unrouted path does, until
the project routes `/` to a view of its own (put that route before this one in config/urls.py, or replace it).
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils.text import slugify

README = settings.BASE_DIR / "README.md"
HEADING = re.compile(r"^(#{2,3}) (.+)$")
FENCE = "```"


@dataclass
class Section:
    level: int
    title: str
    anchor: str
    text: str


def readme_sections(markdown):
    """The README's `##` and `###` sections, each with its text as written (headings inside code blocks are code)."""
    sections, in_code = [], False
    for line in markdown.splitlines():
        if line.startswith(FENCE):
            in_code = not in_code
        heading = None if in_code else HEADING.match(line)
        if heading:
            title = heading[2].strip()
            sections.append(Section(len(heading[1]), title, slugify(title.replace("`", "")), ""))
        elif sections:
            sections[-1].text += line + "\n"
    for section in sections:
        section.text = section.text.strip("\n")
    return sections


def home(request):
    if not settings.DEBUG:
        raise Http404("The development home page is served only while DEBUG is on.")
    readme = README.read_text(encoding="utf-8") if README.exists() else ""
    context = {
        "project_name": settings.PROJECT_NAME,
        "admin_url": "/" + settings.ADMIN_URL,
        "sections": readme_sections(readme),
    }
    return render(request, "home.html", context)
