"""How completely each case-mix field is recorded, in England and per provider, and the caveats."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from indicators.stats.risk.covariates import Covariate

__all__ = ["completeness_by_group"]


def completeness_by_group(specs: list[Covariate], rows: np.ndarray, groups: Any, minimum: float) -> dict[str, Any]:
    """Share of patients with each covariate recorded, in England and per group, and the
    caveat of each group below ``minimum`` for any covariate."""
    labels = groups.to_numpy() if isinstance(groups, (pd.Series, pd.Index)) else np.asarray(groups)
    codes, names = pd.factorize(labels[rows], sort=True, use_na_sentinel=False)
    size = np.bincount(codes, minlength=len(names)).astype(np.float64)
    national = {c.column: float(1 - c.missing_rows[rows].mean()) if rows.size else None for c in specs}
    share = {c.column: 1 - np.bincount(codes, weights=c.missing_rows[rows], minlength=len(names)) / size for c in specs}
    by_group = {str(g): {c.column: float(share[c.column][k]) for c in specs} for k, g in enumerate(names)}
    caveats: dict[str, str] = {}
    for g, values in by_group.items():
        low = [c for c in specs if values[c.column] < minimum]
        if not low:
            continue
        # The trust's own share is not in the words: per-trust completeness is for the audit's analysts and
        # alliance leads (accounts.roles.quality_by_trust_scope), while a caveat is shown to every reader.
        listed = "; ".join(f"{c.label} (England {national[c.column] or 0:.0%})" for c in low)
        imputed = [c.label for c in low if c.missing == "impute"]
        excluded = [c.label for c in low if c.missing == "exclude"]
        consequence = []
        if imputed:
            consequence.append(
                f"missing {', '.join(imputed)} values were filled in from similar patients across England, "
                "so the expected count assumes this trust's unrecorded patients resemble them"
            )
        if excluded:
            consequence.append(f"patients without {', '.join(excluded)} are left out of this result")
        caveats[g] = (
            f"Case-mix data incomplete: fewer than {minimum:.0%} of this trust's patients have {listed} recorded, "
            f"below what this indicator asks for; "
            f"{' and '.join(consequence)}. Read this result with caution."
        )
    return {"national": national, "by_group": by_group, "caveats": caveats}
