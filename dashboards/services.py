"""Writes: build every page piece of a computation run once, from its stored results.

Pages never compute statistics: the run's jobs stored the results, flags and limits
(indicators/services.py), and the page modules (:mod:`dashboards.pages`) turn them, once per run,
into typed pieces: formatted numbers, sentences and Plotly figure specifications, stored as JSON
(:class:`dashboards.models.FigureSpec`). Two variants of every piece are built: ``analyst`` (exact
counts, for the audit's analysts) and ``public`` (the small-number suppression policy applied,
for everyone else).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

from dashboards.models import FigureSpec
from dashboards.pages.alliance import build_alliances
from dashboards.pages.audit import audit_key, build_audit
from dashboards.pages.flag_check import completeness_rows, excess_events, flag_check
from dashboards.pages.indicator import build_indicator, indicator_key
from dashboards.pages.indicator import funnel as _funnel
from dashboards.pages.model_card import build_card, card_key
from dashboards.pages.piece import as_json, embed
from dashboards.pages.run import BUILT, VARIANTS, RunContext, format_result, load_context
from dashboards.pages.trust import build_trusts
from indicators.levels import ENGLAND_CODE
from indicators.models import ComputationRun

logger = logging.getLogger(__name__)
# What the build uses, and the pure pieces of the pages their tests know by this module's name.
__all__ = [
    "BUILT",
    "ENGLAND_CODE",
    "RunContext",
    "_funnel",
    "build_current_run_pages",
    "build_run_pages",
    "completeness_rows",
    "embed",
    "excess_events",
    "flag_check",
    "format_result",
    "load_context",
]


def build_run_pages(run: ComputationRun) -> int:
    """Build and store every page piece of ``run``, once: returns the number of pieces the run has.

    Called by the task queued when a run becomes current, and by a page's first visit after a run
    if no one has built its pieces yet (the view, told by :class:`dashboards.selectors.PiecesNotBuilt`).
    Concurrent callers take turns on a lock per run (in PostgreSQL, so across processes and
    machines): the first builds, the others wait for it and then find its pieces. A builder that
    dies releases the lock with its connection.
    """
    with _one_builder(run):
        built = FigureSpec.objects.filter(run=run, key=BUILT).values_list("data", flat=True).first()
        if built is not None:
            return int(built["pieces"])
        return _build_run_pages(run)


# pg_advisory_xact_lock(namespace, run id): a fixed namespace keeps these locks apart from any other use.
BUILD_LOCK_NAMESPACE = 7201
_LOCAL_BUILDS = threading.Lock()


@contextmanager
def _one_builder(run: ComputationRun) -> Iterator[None]:
    """A transaction holding the run's build lock. PostgreSQL: a transaction-level advisory lock, released
    at commit or when the connection goes. SQLite (one process: the demo): its threads take turns."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BUILD_LOCK_NAMESPACE, run.pk])
            yield
    else:
        with _LOCAL_BUILDS, transaction.atomic():
            yield


def _build_run_pages(run: ComputationRun) -> int:
    context = load_context(run)
    pieces: dict[str, Any] = {}
    for code in context.definitions:
        card = build_card(context, code)
        if card is not None:
            pieces[card_key(code)] = card
    for variant in VARIANTS:
        pieces[audit_key(variant)] = build_audit(context, variant)
        for code in context.definitions:
            for period in context.periods.get(code, []):
                pieces[indicator_key(code, period, variant)] = build_indicator(context, code, period, variant)
        pieces.update(build_trusts(context, variant))
        pieces.update(build_alliances(context, variant, pieces))
    pieces[BUILT] = {"pieces": len(pieces)}
    FigureSpec.objects.bulk_create(
        [FigureSpec(run=run, key=key, data=as_json(data)) for key, data in pieces.items()],
        batch_size=200,
        ignore_conflicts=True,
    )
    # Pieces of the release's earlier runs are no longer shown.
    FigureSpec.objects.filter(run__release=run.release).exclude(run=run).delete()
    logger.info("built %s dashboard pieces for run %s", len(pieces), run.pk)
    return len(pieces)


def build_current_run_pages(run_id: int) -> int:
    """Entry point for the end of a computation run (takes an id, as tasks do)."""
    run = ComputationRun.objects.select_related("release__audit").get(pk=run_id)
    if not run.is_current:
        return 0
    return build_run_pages(run)
