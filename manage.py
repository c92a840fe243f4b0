#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import gc
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cancerplan.settings")
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    finally:
        # The command is over and the process ends: spare the interpreter's final garbage collection over
        # every object Django, Arrow and pandas made (about 0.15 s of each command's exit). Only that last
        # pass over reference cycles is skipped; atexit hooks (logging's flush) still run, and the memory
        # and the database connection go with the process.
        gc.freeze()


if __name__ == "__main__":
    main()
