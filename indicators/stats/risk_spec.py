"""The words of a covariate specification (see :mod:`indicators.stats.risk`), as plain data.

Kept apart from the model so that checking a definition file needs no numpy, scipy or statsmodels.
"""

from __future__ import annotations

__all__ = ["COVARIATE_KEYS", "COVARIATE_TYPES", "MISSING_HANDLING", "RISK_MODEL_KEYS", "TRANSFORMS"]

# A risk model: its covariates and, optionally, pairs of them that interact.
RISK_MODEL_KEYS = frozenset({"covariates", "interactions"})
# One covariate: {column, type, transform?, reference?, missing?}.
COVARIATE_KEYS = frozenset({"column", "type", "transform", "reference", "missing"})
COVARIATE_TYPES = ("numeric", "categorical", "boolean")
MISSING_HANDLING = ("category", "exclude")
TRANSFORMS = ("square",)  # numeric covariates only
