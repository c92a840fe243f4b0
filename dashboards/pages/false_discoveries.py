"""The false-discovery-rate view of an indicator's funnel, for the audit's analysts: each unit's two-sided p-value
from its funnel tail (the stored z, overdispersion allowed for), its Benjamini-Hochberg q-value, and which units
stay discoveries at a 5% false-discovery rate; with how many flags chance alone would give.

Built from the run's exact stored results (the analysts' figures); the statistics are
``indicators.stats.multiplicity``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dashboards import text
from indicators.levels import PROVIDER
from indicators.stats.multiplicity import benjamini_hochberg, tails_of_z, two_sided_p

#: The false-discovery rate the view marks discoveries at.
FDR = 0.05


@dataclass
class FalseDiscoveryRow:
    organisation: str
    name: str
    value_text: str
    z_text: str
    p_text: str
    q_text: str
    discovery: bool
    flag_label: str


@dataclass
class FalseDiscoveryPage:
    level: str
    period: str
    period_text: str
    unit_word: str
    compared: int
    flagged: int
    discoveries: int
    chance: str
    rows: list[FalseDiscoveryRow] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{self.compared} {self.unit_word}s compared, {self.flagged} flagged beyond the 95% limits; "
            f"{self.discoveries} stay discoveries with the false-discovery rate held at {FDR:.0%} "
            f"(Benjamini-Hochberg q-value at most {FDR:g}). {self.chance}"
        )


def _number(value: float, digits: str) -> str:
    return "-" if not np.isfinite(value) else format(value, digits)


def build_false_discoveries(
    rows: list[dict[str, Any]], *, level: str, period: str, names: dict[str, str], direction: str
) -> FalseDiscoveryPage:
    """The view of one level and period from its exact result rows (``organisation``, ``value``, ``z``, ``flag``):
    the units compared are those with a z (in the funnel)."""
    unit_word = "trust" if level == PROVIDER else "Cancer Alliance"
    compared = [row for row in rows if row["z"] is not None]
    z = np.array([float(row["z"]) for row in compared], dtype=float)
    p = two_sided_p(*tails_of_z(z))
    found = benjamini_hochberg(p, FDR)
    out = []
    for row, z_i, p_i, q_i, d_i in zip(compared, z, p, found.q_values, found.discoveries, strict=True):
        out.append(
            FalseDiscoveryRow(
                organisation=row["organisation"],
                name=names.get(row["organisation"], row["organisation"]),
                value_text=text.percent(row["value"]) if row["value"] is not None else "-",
                z_text=_number(z_i, ".2f"),
                p_text=_number(p_i, ".4f"),
                q_text=_number(q_i, ".4f"),
                discovery=bool(d_i),
                flag_label=text.label_of(row["flag"], direction),  # type: ignore[arg-type]
            )
        )
    out.sort(key=lambda r: (r.name.lower(), r.organisation))  # by name: not a league table
    return FalseDiscoveryPage(
        level=level,
        period=period,
        period_text=text.period_words(period),
        unit_word=unit_word,
        compared=len(compared),
        flagged=sum(1 for row in compared if row["flag"] != "none"),
        discoveries=found.count,
        chance=text.chance_flags_sentence(len(compared), unit_word),
        rows=out,
    )
