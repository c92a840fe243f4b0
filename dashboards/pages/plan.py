"""The "Improvement plan" section of the trust and alliance pages (issue 13, item 5): a trust's actions per
indicator, each with the indicator before and after, and the forms that add and update them.

Shown only to those who keep the plan (``outliers.plans.may_plan``); read per request, never stored in a piece.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from dashboards import text
from indicators.stats.vocabulary import Direction
from outliers.models import ImprovementAction
from outliers.plans import Reading


@dataclass(frozen=True)
class ReadingText:
    """A reading in words: release, period, value, interval and flag."""

    release: str
    period: str
    value: str
    interval: str
    flag: str

    @classmethod
    def of(cls, reading: Reading | None, direction: Direction) -> ReadingText | None:
        if reading is None:
            return None
        shown = reading.value is not None
        flag = reading.flag or "none"
        return cls(
            release=f"release {reading.release.version} ({reading.release.extract_date:%d %b %Y})",
            period=reading.period,
            value=text.percent(reading.value) if shown else "not shown (small numbers)",
            interval=text.interval(reading.ci_lower, reading.ci_upper) if shown else "",
            flag=text.label_of(flag, direction, flag != "none", shown=shown) if shown else "",
        )


@dataclass
class PlanEntry:
    """One action, with the indicator when it was recorded and at the latest published release."""

    action: ImprovementAction
    trust_name: str
    indicator_title: str
    before: ReadingText | None
    after: ReadingText | None
    trend_url: str

    @property
    def newer(self) -> bool:
        """Whether a newer release than the action's has been published (else before and after are the same)."""
        return self.after is not None and self.before is not None and self.after.release != self.before.release


@dataclass
class PlanSection:
    """The plan of some trusts in the audits the reader keeps them for, and what its forms offer."""

    trusts: list[tuple[str, str]]  # (code, name) the reader may add actions for
    audits: list[dict[str, Any]]  # {"code", "name", "indicators": [(code, title)]}
    entries: list[PlanEntry] = field(default_factory=list)
    statuses: list[tuple[str, str]] = field(default_factory=lambda: list(ImprovementAction.Status.choices))

    @property
    def shown(self) -> bool:
        return bool(self.trusts and self.audits)


def trend_url(action: ImprovementAction) -> str:
    return reverse("trust-trend", args=[action.organisation, action.audit_id, action.indicator])
