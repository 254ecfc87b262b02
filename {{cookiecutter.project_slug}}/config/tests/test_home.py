"""The development home page at /: the project's name and its links while DEBUG is on, 404 in production."""

import pytest
from django.utils.html import escape

from config.home import readme_sections

pytestmark = pytest.mark.django_db


def test_the_home_page_links_the_admin_the_health_check_and_the_readme_while_debug_is_on(client, settings):
    settings.DEBUG = True
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert f"<h1>{escape(settings.PROJECT_NAME)}</h1>" in page  # any name, quotes and <&> included
    assert f'href="/{settings.ADMIN_URL}"' in page
    assert 'href="/healthz"' in page
    assert 'href="#environment-variables"' in page
    assert 'id="environment-variables"' in page


def test_the_home_page_is_not_found_with_debug_off(client, settings):
    settings.DEBUG = False
    assert client.get("/").status_code == 404


def test_readme_sections_are_its_headings_outside_code_blocks():
    markdown = "# Title\n\nIntro.\n\n## Set-up: `make`\n\n```sh\n## not a heading\n```\n\n### Deeper\n\nText.\n"
    sections = readme_sections(markdown)
    assert [(s.level, s.title, s.anchor) for s in sections] == [
        (2, "Set-up: `make`", "set-up-make"),
        (3, "Deeper", "deeper"),
    ]
    assert sections[0].text == "```sh\n## not a heading\n```"
    assert sections[1].text == "Text."
