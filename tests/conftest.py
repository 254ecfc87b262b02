import os

import pytest

from .baking import POSTGRES_SERVER, Bakery, postgres_problem

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def bakery(cookies_session, tmp_path_factory):
    return Bakery(cookies_session, tmp_path_factory.mktemp("venvs"))


DJANGO_VERSIONS = ["6.1", "5.2"]


@pytest.fixture(scope="session")
def default_project(bakery):
    """The project every user gets with `cookiecutter --no-input`."""
    return bakery.bake()


@pytest.fixture(scope="session", params=DJANGO_VERSIONS, ids=[f"django{version}" for version in DJANGO_VERSIONS])
def supported_project(request, bakery):
    """The default project on each supported Django version (the default answer, and the LTS)."""
    return bakery.bake(django_version=request.param)


@pytest.fixture(scope="session")
def postgres_url():
    """The PostgreSQL server's URL; its absence skips the test on a developer's machine and fails it in CI."""
    problem = postgres_problem()
    if problem is None:
        return POSTGRES_SERVER
    if REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL is required here (REQUIRE_POSTGRES=1), but {problem}")
    pytest.skip(problem)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request):
    """None for the embedded SQLite default, or the PostgreSQL server's URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")
