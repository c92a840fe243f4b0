"""python manage.py outlier_cases --audit AUDIT [--json]: the audit's outlier cases, newest first.

Fields: ``outliers.access.CASE_FIELDS`` (id, indicator, organisation, period, release: the version that opened
the case, flag: alarm or alert, direction: worse or better, track, stage, stage_due, status).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audits.models import Audit
from outliers.access import CASE_FIELDS
from outliers.models import OutlierCase


def case_row(case: OutlierCase) -> dict[str, Any]:
    row = {
        "id": case.pk,
        "indicator": case.indicator,
        "organisation": case.organisation,
        "period": case.period,
        "release": case.opened_release.version,
        "flag": case.level,
        "direction": case.direction,
        "track": case.track,
        "stage": case.stage,
        "stage_due": case.stage_due.isoformat() if case.stage_due else None,
        "status": case.status,
    }
    return {name: row[name] for name in CASE_FIELDS}


class Command(BaseCommand):
    help = "List an audit's outlier cases."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--audit", required=True, help="The audit's code, e.g. bowel")
        parser.add_argument("--json", action="store_true", help="One JSON list instead of a table")

    def handle(self, *args, **options) -> None:
        if not Audit.objects.filter(code=options["audit"]).exists():
            raise CommandError(f"No audit {options['audit']!r}.")
        cases = OutlierCase.objects.filter(audit_id=options["audit"]).select_related("opened_release")
        rows = [case_row(case) for case in cases.order_by("-created_at", "-pk")]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write("\t".join(CASE_FIELDS))
        for row in rows:
            self.stdout.write("\t".join("" if row[name] is None else str(row[name]) for name in CASE_FIELDS))
