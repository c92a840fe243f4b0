from datetime import date
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from audits.demo import AUDITS, generate_extract, planted_outliers, write_extract
from audits.organisations import SEED_DIR


class Command(BaseCommand):
    help = (
        "Write a realistic synthetic extract on real trust codes: skewed volumes, case-mix that drives "
        "outcomes, and a few trusts with truly worse outcomes."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="CSV file to write")
        parser.add_argument("--audit", required=True, choices=AUDITS)
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument(
            "--extract-date",
            default="2026-03-31",
            help="Extract date the data are drawn to (YYYY-MM-DD, default 2026-03-31)",
        )

    def handle(self, *args, **options):
        try:
            extract_date = date.fromisoformat(options["extract_date"])
        except ValueError as exc:
            raise CommandError("--extract-date must be YYYY-MM-DD") from exc
        if options["rows"] < 1:
            raise CommandError("--rows must be at least 1")
        trusts = pd.read_csv(SEED_DIR / "trusts.csv", dtype=str)
        successors = pd.read_csv(SEED_DIR / "successors.csv", dtype=str)
        frame = generate_extract(options["audit"], options["rows"], options["seed"], extract_date, trusts, successors)
        options["out"].parent.mkdir(parents=True, exist_ok=True)
        write_extract(frame, options["out"])
        planted = planted_outliers(options["audit"], options["seed"], trusts)
        self.stdout.write(
            f"Wrote {len(frame)} {options['audit']} rows to {options['out']}. "
            f"Trusts with truly worse outcomes: {planted}"
        )
