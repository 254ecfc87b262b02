"""Drop-in compatibility check: Django's own test suite run against the template's base models.

A baked project's `TrackableModel` (and, for a few labels, `TimestampedModel`) replaces `models.Model` in the test
models of Django's own tests, taken from the sdist of the exact Django version the project installs; every failure
must be a reviewed, explained difference listed in `expected_differences.toml`.

    python -m compat [--django 5.2] [--database sqlite] [--label basic] ...   (or `make test-compat`)

Modules: `sdist` fetches and unpacks Django's tests, `transform` switches the test models' base class, `tree` lays
out a runnable copy of the tests, `suite` runs `runtests.py` label by label and reads the results, `expected` holds
the reviewed differences and compares, `report` prints the table. `inside/` holds the two modules that run inside
Django's test process (the settings and the recording test runner).
"""
