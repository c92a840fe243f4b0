"""The words of a covariate specification (see :mod:`indicators.stats.risk`), as plain data.

Kept apart from the model so that checking a definition file needs no numpy, scipy or statsmodels.
"""

from __future__ import annotations

__all__ = [
    "COVARIATE_KEYS",
    "COVARIATE_TYPES",
    "DEFAULT_MINIMUM_COMPLETENESS",
    "MISSING_HANDLING",
    "RISK_MODEL_KEYS",
    "TRANSFORMS",
    "WITHDRAWN_MISSING",
]

# A risk model: its covariates, optionally pairs of them that interact, and the share of a
# provider's patients with each covariate recorded below which its result carries a caveat.
RISK_MODEL_KEYS = frozenset({"covariates", "interactions", "minimum_completeness"})
DEFAULT_MINIMUM_COMPLETENESS = 0.8
# One covariate: {column, type, transform?, reference?, missing?}.
COVARIATE_KEYS = frozenset({"column", "type", "transform", "reference", "missing"})
COVARIATE_TYPES = ("numeric", "categorical", "boolean")
MISSING_HANDLING = ("impute", "exclude")
# Handlings that were once accepted and are now refused, with the reason a definition author reads.
WITHDRAWN_MISSING = {
    "category": (
        "missing: category is withdrawn: a 'missing' category is estimated from the outcomes of the "
        "patients without the value, so a trust that leaves the field blank absorbs its own results "
        "(ADR 0005); use impute or exclude"
    ),
}
TRANSFORMS = ("square",)  # numeric covariates only
