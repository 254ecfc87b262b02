"""The start of every process (manage.py, the worker, gunicorn, WSGI and ASGI servers): settings that cannot work
stop it with one sentence on stderr and exit code 1, not a traceback.

config/settings.py raises ImproperlyConfigured with a sentence that names the variable and the rule (a missing
SECRET_KEY with DEBUG off, LOG_LEVEL=verbose, ...). Left alone, that sentence is the last line of a long traceback
through Django's and the server's start-up code, which tells an operator nothing more. The settings are loaded
here, first, so that the sentence is all that is printed.
"""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

EXIT_CODE = 1


def load_settings_or_exit(argv=None):
    """Load the project's settings; on a configuration error, print its sentence to stderr and exit 1. Given a
    command line (manage.py's), its --settings and --pythonpath apply first, as Django's own manage.py applies them."""
    if argv is not None:
        _apply_default_options(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    try:
        # Reading any setting imports the settings module, where every check runs.
        settings.INSTALLED_APPS  # noqa: B018 - the read is the point
    except ImproperlyConfigured as error:
        print(configuration_error_line(error), file=sys.stderr)
        raise SystemExit(EXIT_CODE) from None
    return settings


def configuration_error_line(error):
    """The error's sentence as one line (a message spread over several lines is joined with spaces)."""
    return " ".join(str(error).split()) or "The settings could not be loaded (ImproperlyConfigured)."


def _apply_default_options(argv):
    """--settings and --pythonpath from a manage.py command line, read as Django's ManagementUtility reads them
    (before the settings load, which here happens before Django's own parsing)."""
    from django.core.management.base import CommandError, CommandParser, handle_default_options

    parser = CommandParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--settings")
    parser.add_argument("--pythonpath")
    parser.add_argument("args", nargs="*")
    try:
        options, _ = parser.parse_known_args(argv[2:])
    except CommandError:
        return  # a malformed command line is Django's to report, after the settings load
    handle_default_options(options)
