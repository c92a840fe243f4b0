from datetime import date
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from audits.organisations import SEED_DIR
from audits.registry import all_definitions


class Command(BaseCommand):
    help = (
        "Write a realistic synthetic extract for any audit, drawn from its definition file (its columns, codes, "
        "ranges, rules and its optional demo section): real trust codes with skewed volumes, case-mix that drives "
        "outcomes, and the trusts the demo section plants as truly worse or better."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="CSV file to write")
        parser.add_argument("--audit", required=True, help="the audit's code (its definition file's 'code')")
        parser.add_argument("--rows", type=int, help="patients to draw (default: the demo section's rows)")
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument(
            "--extract-date",
            default="2026-03-31",
            help="Extract date the data are drawn to (YYYY-MM-DD, default 2026-03-31)",
        )

    def handle(self, *args, **options):
        from audits.demo.engine import generate_extract, planted_better, planted_outliers, write_extract
        from audits.demo.spec import DEFAULT_ROWS

        definitions = all_definitions()
        definition = definitions.get(options["audit"])
        if definition is None:
            raise CommandError(f"unknown audit {options['audit']!r} (known audits: {', '.join(sorted(definitions))})")
        try:
            extract_date = date.fromisoformat(options["extract_date"])
        except ValueError as exc:
            raise CommandError("--extract-date must be YYYY-MM-DD") from exc
        rows = (
            options["rows"]
            if options["rows"] is not None
            else (definition.demo.rows if definition.demo else DEFAULT_ROWS)
        )
        if rows < 1:
            raise CommandError("--rows must be at least 1")
        if options["seed"] < 0:
            raise CommandError("--seed must be 0 or more")
        trusts = pd.read_csv(SEED_DIR / "trusts.csv", dtype=str)
        successors = pd.read_csv(SEED_DIR / "successors.csv", dtype=str)
        frame = generate_extract(definition, rows, options["seed"], extract_date, trusts, successors)
        options["out"].parent.mkdir(parents=True, exist_ok=True)
        write_extract(frame, options["out"])
        worse = planted_outliers(definition, options["seed"], trusts)
        better = planted_better(definition, options["seed"], trusts)
        self.stdout.write(
            f"Wrote {len(frame)} {definition.code} rows to {options['out']}. "
            f"Trusts with truly worse outcomes: {worse}; truly better: {better}"
        )
