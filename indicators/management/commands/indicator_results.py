import json

from django.core.management.base import BaseCommand, CommandError

from audits.models import Alliance, Release, Trust
from indicators import result_fields
from indicators.levels import ENGLAND_CODE
from indicators.models import Level
from indicators.registry import indicator
from indicators.selectors import results

FIELDS = (
    "organisation",
    "organisation_name",
    "level",
    "period",
    *result_fields.FIGURES,
    *result_fields.JUDGEMENT,
    *result_fields.COMPLETENESS,
    "note",
    "suppressed",
    "method_version",
)


class Command(BaseCommand):
    help = "Print an indicator's results from the current release (unsuppressed counts: for analysts)."

    def add_arguments(self, parser):
        parser.add_argument("--audit", required=True)
        parser.add_argument("--indicator", required=True)
        parser.add_argument("--level", choices=[c for c, _ in Level.choices])
        parser.add_argument("--period", help="e.g. 2024/25 (default: every period)")
        parser.add_argument("--release", type=int, help="Release id (default: the current release)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        try:
            indicator(options["audit"], options["indicator"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from exc
        release = (
            Release.objects.filter(pk=options["release"], audit_id=options["audit"]).first()
            if options["release"]
            else Release.objects.current(options["audit"])
        )
        if release is None:
            raise CommandError(f"no release of {options['audit']}")
        names = {
            **dict(Trust.objects.values_list("code", "name")),
            **dict(Alliance.objects.values_list("code", "name")),
            ENGLAND_CODE: "England",
        }
        rows = [
            {
                field: (names.get(r.organisation, "") if field == "organisation_name" else getattr(r, field))
                for field in FIELDS
            }
            for r in results(
                release=release, indicator=options["indicator"], level=options["level"], period=options["period"]
            )
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write("No results: has compute_indicators run for this release?")
        for row in rows:
            value = "" if row["value"] is None else f"{row['value']:.4f}"
            self.stdout.write(
                f"{row['level']:<9} {row['organisation']:<10} {row['period']:<16} "
                f"{row['numerator']:>7}/{row['denominator']:<7} {value:>8}  {row['flag']}"
            )
