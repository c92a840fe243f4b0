"""Reads for the pages: the run shown for each audit, its prebuilt pieces, and each page's data.

Reads only: nothing here writes. A run's pieces are built by :mod:`dashboards.services` (the task at the end of
the run, or the first visit after it: :class:`PiecesNotBuilt` tells the view). The trend and "is this flag
real?" panels are derived from the run's stored series and results when first asked for, and kept in this
process's memory: a run's results never change once it is shown (ADR 0003).

One module per responsibility: :mod:`.cache` (the process's two caches and the one read of stored pieces),
:mod:`.audit` (the shown run, who sees which variant, the audit and indicator pages), :mod:`.organisation`
(trust and alliance pages, the improvement plan), :mod:`.search` (finding an organisation by what people
type), :mod:`.patients` (a trust's page for patients), :mod:`.trend` (the trend and "is this flag real?" panels)
and :mod:`.data_quality`. The names below are the API the views, the pages and the tests import from
``dashboards.selectors``.
"""

from dashboards.selectors.audit import (
    NoRelease,
    audit_page,
    definitions_in_words,
    false_discoveries_page,
    indicator_page,
    sees_own,
    under_review,
    variant_for,
)
from dashboards.selectors.cache import CACHE, DERIVED, PiecesNotBuilt, pieces
from dashboards.selectors.data_quality import data_quality_page
from dashboards.selectors.organisation import alliance_page, plan_section, trust_page
from dashboards.selectors.patients import for_patients_page
from dashboards.selectors.search import find_organisations, normalise, organisations
from dashboards.selectors.trend import flag_check_page, trend_page
from indicators.selectors import shown_runs  # the one rule for pages and API alike

__all__ = [
    "CACHE",
    "DERIVED",
    "NoRelease",
    "PiecesNotBuilt",
    "alliance_page",
    "audit_page",
    "data_quality_page",
    "false_discoveries_page",
    "definitions_in_words",
    "find_organisations",
    "flag_check_page",
    "for_patients_page",
    "indicator_page",
    "normalise",
    "organisations",
    "pieces",
    "plan_section",
    "sees_own",
    "shown_runs",
    "trend_page",
    "trust_page",
    "under_review",
    "variant_for",
]
