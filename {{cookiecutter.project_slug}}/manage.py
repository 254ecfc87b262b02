#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import sys


def main():
    from config.startup import load_settings_or_exit

    # A configuration error (a missing SECRET_KEY with DEBUG off, say) is one sentence and exit code 1, for every
    # command: run_tasks (the worker) and the release step's migrate included.
    load_settings_or_exit(sys.argv)
    from django.core.management import execute_from_command_line

    from apps.core.audit.context import command_context

    with command_context(sys.argv):  # entries written by the command name it in their "ctx"
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
