"""Two published bowel releases with hand-made results: a known truth of what changed between them.

Indicator ``mdt_discussed`` (higher is better), each release's headline period (all years pooled):

==========  =====================  =====================  ===============================================
trust       release 1              release 2              what changed
==========  =====================  =====================  ===============================================
APPEARS     none, 80%              alarm_low, 60%         new alarm (worse): everyone sees it
CLEARS      alert_high, 95%        none, 92%              flag cleared: everyone sees it
ESCALATES   alert_low, 70%         alarm_low, 65%         alert -> alarm: everyone sees it
HIDDEN_NOW  none, 85%              alert_low, hidden      new alert: the audit's analysts only
HIDDEN_THEN alert_high, hidden     none, 88%              flag cleared: the audit's analysts only
==========  =====================  =====================  ===============================================

England moves from 85% to 83%. The quarterly chart of APPEARS has a new special cause (outside the limits,
concern, low) in its last quarter; CLEARS's chart had one in release 1 and still has it (not new).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from audits.models import Audit, Release, Trust
from audits.organisations import load_organisations
from audits.registry import get_definition
from audits.services.imports import sync_audit
from indicators.levels import ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, IndicatorResult, TrendSeries

CODE = "mdt_discussed"
POOLED = {
    1: ("2023/24-2024/25", date(2023, 4, 1), date(2025, 3, 31)),
    2: ("2023/24-2025/26", date(2023, 4, 1), date(2026, 3, 31)),
}
YEAR = ("2024/25", date(2024, 4, 1), date(2025, 3, 31))  # in both: not the headline


def trusts() -> dict[str, Trust]:
    """Five real trusts (the seed's first), by their part in the story."""
    roles = ("APPEARS", "CLEARS", "ESCALATES", "HIDDEN_NOW", "HIDDEN_THEN")
    return dict(zip(roles, Trust.objects.select_related("alliance").order_by("code")[:5], strict=True))


# (flag, value, hidden) per release
STORY = {
    "APPEARS": ((("none", 0.80, False)), ("alarm_low", 0.60, False)),
    "CLEARS": (("alert_high", 0.95, False), ("none", 0.92, False)),
    "ESCALATES": (("alert_low", 0.70, False), ("alarm_low", 0.65, False)),
    "HIDDEN_NOW": (("none", 0.85, False), ("alert_low", 0.40, True)),
    "HIDDEN_THEN": (("alert_high", 0.99, True), ("none", 0.88, False)),
}
ENGLAND = (0.85, 0.83)


def make_release(audit: Audit, version: int, *, status: str = Release.Status.ACCEPTED) -> Release:
    return Release.objects.create(
        audit=audit,
        version=version,
        status=status,
        file_name=f"bowel-{version}.csv",
        sha256=f"{version:064x}",
        extract_date=date(2025 + version - 1, 3, 31),
        period_start=date(2023, 4, 1),
        period_end=POOLED[min(version, 2)][2],
        origin=Release.Origin.CLI,
        definition={},
        definition_sha="0" * 64,
        storage_table="none",
    )


def _result(run: ComputationRun, organisation: str, level: str, period, value: float, flag: str, hidden: bool):
    label, start, end = period
    denominator = 200
    numerator = round(value * denominator)
    public = None
    if level != NATIONAL and not hidden:
        public = {"numerator": numerator, "denominator": denominator, "value": value, "observed": numerator}
    return IndicatorResult(
        run=run,
        release=run.release,
        audit_code="bowel",
        indicator=CODE,
        level=level,
        organisation=organisation,
        period=label,
        period_start=start,
        period_end=end,
        numerator=numerator,
        denominator=denominator,
        observed=numerator,
        value=value,
        national_value=ENGLAND[0],
        flag=flag,
        eligible=True,
        suppressed=hidden,
        public=public,
        method_version="test",
    )


def _chart(values: list[float], special: int | None) -> dict[str, Any]:
    points = [
        {
            "x": i,
            "value": v,
            "special_cause_flag": i == special,
            "special_cause_rule": "outside_limits" if i == special else "",
            "point_type": "special_cause_concern" if i == special else "common_cause",
            "side": "low" if i == special else "",
        }
        for i, v in enumerate(values)
    ]
    return {"mean": sum(values) / len(values), "points": points}


def _trend(run: ComputationRun, organisation: str, quarters: list[str], special: str | None) -> TrendSeries:
    values = [0.8 - 0.01 * i for i in range(len(quarters))]
    points = [
        {"quarter": q, "start": "2024-04-01", "numerator": 80, "denominator": 100, "value": v, "suppressed": False}
        for q, v in zip(quarters, values, strict=True)
    ]
    chart = _chart(values, quarters.index(special) if special else None)
    return TrendSeries(
        run=run,
        indicator=CODE,
        level=PROVIDER,
        organisation=organisation,
        points=points,
        xmr=chart,
        public={"points": points, "xmr": chart},
    )


def make_run(release: Release, version: int) -> ComputationRun:
    run = ComputationRun.objects.create(
        release=release,
        status=ComputationRun.Status.DONE,
        is_current=True,
        method_version="test",
        finished_at=timezone.now(),
    )
    step = 0 if version == 1 else 1
    rows = [
        _result(run, ENGLAND_CODE, NATIONAL, POOLED[version], ENGLAND[step], "none", False),
        _result(run, ENGLAND_CODE, NATIONAL, YEAR, 0.5, "none", False),
    ]
    for role, trust in trusts().items():
        flag, value, hidden = STORY[role][step]
        rows.append(_result(run, trust.code, PROVIDER, POOLED[version], value, flag, hidden))
        rows.append(_result(run, trust.code, PROVIDER, YEAR, 0.5, "alarm_high", False))  # never the headline
    IndicatorResult.objects.bulk_create(rows)
    quarters = ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3", "2024/25 Q4"] + (["2025/26 Q1"] if version == 2 else [])
    t = trusts()
    TrendSeries.objects.bulk_create(
        [
            _trend(run, t["APPEARS"].code, quarters, "2025/26 Q1" if version == 2 else None),
            _trend(run, t["CLEARS"].code, quarters, "2024/25 Q2"),
        ]
    )
    return run


def build(*, second_status: str = Release.Status.ACCEPTED) -> dict[str, Any]:
    """The audit, both releases and their runs, in the test's database."""
    load_organisations()
    audit = sync_audit(get_definition("bowel"))
    first = make_release(audit, 1)
    make_run(first, 1)
    second = make_release(audit, 2, status=second_status)
    make_run(second, 2)
    return {"audit": audit, "first": first, "second": second, "trusts": trusts()}
