"""Reading a run's inequality breakdowns as a reader may see them (pages, API, CSV).

The audit's analysts (``accounts.roles.sees_unsuppressed``) get every group as computed, each saying whether it is
hidden from the public; everyone else gets England as computed and an alliance's shown groups with their public
figures (rounded counts, figures computed from them), its hidden groups with no counts or figures, and the SII and
gap only when none of its deprivation groups is hidden (indicators.compute.inequalities)."""

from __future__ import annotations

from typing import Any

from indicators.levels import ALLIANCE, ENGLAND_CODE
from indicators.models import ComputationRun, InequalityResult

ROW_FIELDS = ("group", "numerator", "denominator", "value", "ci_lower", "ci_upper", "suppressed")
SUMMARY_FIELDS = ("sii", "sii_lower", "sii_upper", "gap")
FIGURES = ("numerator", "denominator", "value", "ci_lower", "ci_upper")


def breakdown(
    run: ComputationRun, indicator: str, dimension: str, organisation: str | None, *, unsuppressed: bool
) -> dict[str, Any] | None:
    """One dimension's groups of one indicator for ``organisation`` (England when None), with its SII and gap;
    None when the run has none."""
    organisation = (organisation or ENGLAND_CODE).upper()
    found = list(
        InequalityResult.objects.filter(
            run=run, indicator=indicator, dimension=dimension, organisation=organisation
        ).order_by("position")
    )
    if not found:
        return None
    rows, summary = [], {name: getattr(found[0], name) for name in SUMMARY_FIELDS}
    hide = found[0].level == ALLIANCE and not unsuppressed
    if hide:
        shown = [r.public for r in found if r.public is not None and not r.suppressed]
        summary = {name: (shown[0].get(name) if shown else None) for name in SUMMARY_FIELDS}
    for result in found:
        row = {name: getattr(result, name) for name in ROW_FIELDS}
        if hide:
            public = None if result.suppressed else result.public
            row.update({name: (public or {}).get(name) for name in FIGURES})
            row["suppressed"] = public is None
        elif result.level != ALLIANCE:
            row["suppressed"] = False
        rows.append(row)
    return {
        "indicator": indicator,
        "dimension": dimension,
        "level": found[0].level,
        "organisation": organisation,
        "period": found[0].period,
        "run": run.pk,
        "release": run.release_id,
        **summary,
        "rows": rows,
    }
