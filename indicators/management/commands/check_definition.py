"""Check audit definition files before they are deployed: the same checks as at start-up."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audits.checks import load_files
from indicators.checks import definition_problems


class Command(BaseCommand):
    help = (
        "Check audit definition files (or every *.yaml in a folder) as the start-up check does: "
        "exit status 0 when every file passes, 1 otherwise."
    )
    # A broken deployed definition must not stop a registry author checking a new file.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a definition file or a folder of them")
        parser.add_argument(
            "--json",
            action="store_true",
            help='print a list of problems: [{"id", "file", "entry", "key", "message"}], [] when all pass',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = []
        for path in options["paths"]:
            if path.is_dir():
                found = sorted(path.glob("*.yaml"))
                if not found:
                    raise CommandError(f"{path}: no definition files (*.yaml) in this folder")
                paths += found
            else:
                paths.append(path)
        problems = definition_problems(paths)
        if options["json"]:
            self.stdout.write(json.dumps([problem.as_dict() for problem in problems], indent=2))
        else:
            refused = {problem.path for problem in problems}
            loaded, _ = load_files(path for path in paths if path not in refused)
            for path, definition in loaded:
                self.stdout.write(
                    f"{path}: no problems (audit {definition.code}: {len(definition.columns)} columns, "
                    f"{len(definition.rules)} rules, {len(definition.indicators)} indicators)"
                )
            for problem in problems:
                self.stderr.write(f"{problem.path}: {problem.error.located}")
        if problems:
            sys.exit(1)
