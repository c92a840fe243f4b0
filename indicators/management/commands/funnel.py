import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from indicators.funnel_tool import METHODS, OVERDISPERSION, AggregateError, analyse, as_json, read_table


class Command(BaseCommand):
    help = (
        "Funnel-plot limits, overdispersion and outlier flags for an aggregated CSV: "
        "unit,numerator,denominator (proportion) or unit,observed,expected (ratio)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--kind", required=True, choices=("proportion", "ratio"))
        parser.add_argument(
            "--method",
            default=None,
            help="; ".join(f"{kind}: {', '.join(methods)}" for kind, methods in METHODS.items())
            + " (the first is the default: calibrated mid-p flags)",
        )
        parser.add_argument(
            "--overdispersion",
            default="auto",
            choices=OVERDISPERSION,
            help="auto (default): additive when phi > 1; none; additive; multiplicative",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        try:
            text = options["path"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {options['path']}: {exc}") from exc
        try:
            result = analyse(
                read_table(text, options["kind"]), method=options["method"], overdispersion=options["overdispersion"]
            )
        except AggregateError as exc:
            for error in exc.errors:
                where = f"line {error['line']}" if error["line"] else "table"
                self.stderr.write(
                    f"{where}{', column ' + error['column'] if error['column'] else ''}: {error['message']}"
                )
            sys.exit(1)
        data = as_json(result)
        if options["json"]:
            self.stdout.write(json.dumps(data))
            return
        applied = f"applied ({data['overdispersion']})" if data["overdispersion_applied"] else "not applied"
        self.stdout.write(
            f"target {data['target']:.6g}; phi {data['phi']:.4g}, tau2 {data['tau2']:.4g}; overdispersion {applied}"
        )
        for unit in data["units"]:
            self.stdout.write(
                f"{unit['unit']:<20} {unit['value']:>9.4f}  95% limits {unit['limit_lower_95']:.4f}-"
                f"{unit['limit_upper_95']:.4f}  99.8% {unit['limit_lower_998']:.4f}-"
                f"{unit['limit_upper_998']:.4f}  {unit['flag']}"
            )
