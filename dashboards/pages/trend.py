"""The trend page of an organisation and indicator: the XmR chart of its quarters (Making Data Count), derived
from the run's stored series when asked for, and its CSV."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboards import figures, text
from dashboards.pages.piece import CsvSchema, Piece, columns, embed
from dashboards.pages.run import kind_of, shown_count
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_trend, suppression_policy
from indicators.kinds import Kind


def trend_key(level: str, organisation: str, code: str, variant: str) -> str:
    return f"trend:{level}:{organisation}:{code}:{variant}"


@dataclass(kw_only=True)
class TrendRow(Piece):
    """One quarter: its counts and value as published, and its SPC point type and rule in words."""

    quarter: str
    numerator: str
    denominator: str
    value_text: str
    point_type: str
    point_words: str
    rule: str


@dataclass(kw_only=True)
class TrendPiece(Piece):
    """The quarters of one organisation and indicator, and their XmR chart when there are enough of them."""

    code: str
    level: str
    organisation: str
    rows: list[TrendRow]
    has_chart: bool
    kind: Kind
    summary: str = ""
    figure: str | None = None
    mean: str = ""
    upl: str = ""
    lpl: str = ""
    target: str = ""
    variation_icon: str | None = None
    assurance_icon: str | None = None
    trial_limits: bool = False
    n_points: int | None = None


#: ``?download=quarters`` of the trend page.
QUARTERS_CSV: CsvSchema[TrendRow] = columns(
    ("quarter", lambda r: r.quarter),
    ("numerator", lambda r: r.numerator),
    ("denominator", lambda r: r.denominator),
    ("value", lambda r: r.value_text),
    ("spc_point_type", lambda r: r.point_type),
    ("spc_rule", lambda r: r.rule),
)


def build_trend(
    *,
    definition: IndicatorDefinition,
    level: str,
    organisation: str,
    series: Mapping[str, Any],
    variant: str,
) -> TrendPiece | None:
    """The XmR chart of one organisation and indicator, from its stored series (``points``, ``xmr`` and
    ``public`` of a :class:`indicators.models.TrendSeries`) as published to ``variant``. Pure: no database."""
    if not series["points"]:
        return None
    code = definition.code
    marker = suppression_policy().marker
    points, xmr = publish_trend(
        level=level,
        points=series["points"],
        xmr=series["xmr"],
        public=series["public"],
        unsuppressed=variant == "analyst",
    )
    values = [p.get("value") for p in points]
    # The chart was drawn from the (published) quarters that have a value, in order (indicators.compute.trend_chart).
    xmr_points = list((xmr or {}).get("points") or [])
    spc_for: list[dict[str, Any]] = []
    position = 0
    for point in points:
        if point.get("value") is not None and position < len(xmr_points):
            spc_for.append(xmr_points[position])
            position += 1
        else:
            spc_for.append({})
    rows = [
        TrendRow(
            quarter=point["quarter"],
            numerator=shown_count(point["numerator"]),
            denominator=shown_count(point["denominator"]),
            value_text=text.percent(value) if value is not None else marker,
            point_type=spc.get("point_type", "common_cause") if spc else "",
            point_words=figures.SPC_LABELS.get(spc.get("point_type", ""), "") if spc else "",
            rule=figures.RULE_WORDS.get(spc.get("special_cause_rule") or "", "") if spc else "",
        )
        for point, value, spc in zip(points, values, spc_for, strict=True)
    ]
    data = TrendPiece(
        code=code,
        level=level,
        organisation=organisation,
        rows=rows,
        has_chart=xmr is not None,
        kind=kind_of(definition),
    )
    if xmr is not None:
        data.figure = embed(
            figures.xmr_figure(
                labels=[p["quarter"] for p in points],
                values=values,
                point_types=[r.point_type for r in rows],
                rules=[spc.get("special_cause_rule", "") for spc in spc_for],
                mean=xmr.get("mean"),
                lpl=xmr.get("lpl"),
                upl=xmr.get("upl"),
                target=xmr.get("target"),
                percent_axis=True,
                y_title=data.kind.value_title,
                value_texts=[r.value_text for r in rows],
            )
        )
        data.mean = text.percent(xmr.get("mean"))
        data.upl = text.percent(xmr.get("upl"))
        data.lpl = text.percent(xmr.get("lpl"))
        data.target = text.percent(xmr["target"]) if xmr.get("target") else ""
        data.variation_icon = xmr.get("variation_icon")
        data.assurance_icon = xmr.get("assurance_icon")
        data.trial_limits = bool(xmr.get("trial_limits"))
        data.n_points = xmr.get("n_points")
    known = [(r.quarter, v) for r, v in zip(rows, values, strict=True) if v is not None]
    data.summary = (
        f"{len(points)} quarters from {points[0]['quarter']} to {points[-1]['quarter']}"
        + (f"; the latest shown is {text.percent(known[-1][1])} in {known[-1][0]}" if known else "")
        + (
            f"; mean {data.mean}, process limits {data.lpl} to {data.upl}."
            if xmr
            else "; too few quarters to draw process limits."
        )
    )
    hidden = sum(1 for p in points if p.get("suppressed") and p.get("value") is None)
    if hidden:
        data.summary += (
            f" {hidden} quarter{'s are' if hidden != 1 else ' is'} not shown because of small numbers, and left out "
            "of the chart's mean and limits."
        )
    return data


VARIATION_WORDS = {
    "common_cause": ("Common cause variation", "The latest quarters vary no more than expected by chance."),
    "improvement_high": ("Special cause variation: improvement (higher)", "Higher values, which is better."),
    "improvement_low": ("Special cause variation: improvement (lower)", "Lower values, which is better."),
    "concern_high": ("Special cause variation: concern (higher)", "Higher values, which is worse."),
    "concern_low": ("Special cause variation: concern (lower)", "Lower values, which is worse."),
    "neutral_high": ("Special cause variation: higher", "Higher values; neither better nor worse."),
    "neutral_low": ("Special cause variation: lower", "Lower values; neither better nor worse."),
}
ASSURANCE_WORDS = {
    "consistent_pass": ("Consistently meets the target", "The process limits are on the right side of the target."),
    "consistent_fail": (
        "Consistently misses the target",
        "The target lies outside the process limits: without a change to the process it will not be met.",
    ),
    "inconsistent": (
        "Hit and miss",
        "The target lies within the process limits: it will sometimes be met and sometimes not.",
    ),
}


def spc_icons(data: TrendPiece) -> list[dict[str, str]]:
    """The Making Data Count icons of the chart: variation, and assurance against a target."""
    icons = []
    variation = data.variation_icon
    if variation in VARIATION_WORDS:
        kind = variation.split("_")[0]
        icons.append(
            {
                "kind": "variation",
                "name": variation,
                "class": kind,
                "letter": {"high": "H", "low": "L"}.get(variation.rsplit("_", 1)[-1], "~"),
                "title": VARIATION_WORDS[variation][0],
                "text": VARIATION_WORDS[variation][1],
            }
        )
    assurance = data.assurance_icon
    if assurance in ASSURANCE_WORDS:
        icons.append(
            {
                "kind": "assurance",
                "name": assurance,
                "class": {"consistent_pass": "improvement", "consistent_fail": "concern"}.get(assurance, "common"),
                "letter": {"consistent_pass": "P", "consistent_fail": "F"}.get(assurance, "?"),
                "title": ASSURANCE_WORDS[assurance][0],
                "text": ASSURANCE_WORDS[assurance][1],
            }
        )
    return icons
