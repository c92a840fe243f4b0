"""Page pieces are typed: each stored piece reads back as its dataclass and gives the very JSON it was stored as;
every download keeps its columns; and a page's GET never writes once its run's pieces are built."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audits.models import Trust
from dashboards import selectors
from dashboards.models import FigureSpec
from dashboards.pages.alliance import AllianceFunnel, AlliancePiece
from dashboards.pages.audit import AuditPiece, audit_key
from dashboards.pages.indicator import IndicatorPiece
from dashboards.pages.model_card import ModelCard, UnfittedCard
from dashboards.pages.piece import as_json, decode
from dashboards.pages.run import BUILT
from dashboards.pages.trust import TrustPiece
from indicators.models import IndicatorResult, RunIndicator
from indicators.registry import indicators_for
from tests.dashboards.data import ANALYST_PASSWORD

pytestmark = pytest.mark.django_db

TYPES = {
    "audit": AuditPiece,
    "indicator": IndicatorPiece,
    "trust": TrustPiece,
    "alliance": AlliancePiece,
    "alliance-funnels": dict[str, AllianceFunnel],
    "card": ModelCard | UnfittedCard,
}
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def busiest_trust(run) -> str:
    return IndicatorResult.objects.filter(run=run, level="provider").order_by("-denominator")[0].organisation


def test_every_stored_piece_reads_back_as_its_type_and_gives_the_json_it_was_stored_as(demo):
    kinds = set()
    for audit, run in demo["runs"].items():
        for key, data in FigureSpec.objects.filter(run=run).exclude(key=BUILT).values_list("key", "data"):
            kind = key.split(":")[0]
            piece = decode(TYPES[kind], data)
            assert as_json(piece) == data, (audit, key)
            kinds.add(type(piece).__name__)
    assert kinds >= {"AuditPiece", "IndicatorPiece", "TrustPiece", "AlliancePiece", "dict", "ModelCard"}


def test_a_model_that_could_not_be_fitted_reads_back_as_an_unfitted_card():
    data = {"fitted": False, "reason": "The figure could not be computed."}
    card = decode(ModelCard | UnfittedCard, data)
    assert isinstance(card, UnfittedCard) and as_json(card) == data


# Added later (the reliability-adjusted estimate): after the columns the files' first users read, never among them.
SHRUNKEN = ["shrunken_value", "shrunken_95_lower", "shrunken_95_upper", "reliability"]
SHRUNKEN_RATIO = ["shrunken_observed_over_expected", "shrunken_oe_95_lower", "shrunken_oe_95_upper", "reliability"]


def test_every_download_keeps_its_columns(client, demo):
    """The CSV columns are the files' contract with their users: names and order as they were."""
    run = demo["runs"]["lung"]
    code = busiest_trust(run)
    alliance = Trust.objects.get(code=code).alliance_id
    ratio = next(d.code for d in indicators_for("lung") if d.risk_adjusted)
    plain = next(d.code for d in indicators_for("lung") if not d.risk_adjusted)
    expected = {
        reverse("audit", args=["lung"]) + "?download=indicators": [
            "code",
            "indicator",
            "period",
            "england",
            "england_counts",
            "trusts_compared",
            "trusts_outside_95_limits",
            "direction",
            "numerator",
            "denominator",
            "risk_adjusted",
        ],
        reverse("indicator", args=["lung", plain]) + "?download=trusts": [
            "code",
            "name",
            "cancer_alliance",
            "numerator",
            "denominator",
            "value",
            "value_95_lower",
            "value_95_upper",
            "compared_with_expected",
            *SHRUNKEN,
        ],
        reverse("indicator", args=["lung", plain]) + "?download=alliances": [
            "code",
            "name",
            "numerator",
            "denominator",
            "value",
            "value_95_lower",
            "value_95_upper",
            "compared_with_expected",
            *SHRUNKEN,
        ],
        reverse("indicator", args=["lung", ratio]) + "?download=trusts": [
            "code",
            "name",
            "cancer_alliance",
            "patients",
            "observed",
            "expected",
            "observed_over_expected",
            "oe_95_lower",
            "oe_95_upper",
            "risk_adjusted_rate",
            "rate_95_lower",
            "rate_95_upper",
            "compared_with_expected",
            *SHRUNKEN_RATIO,
        ],
        reverse("indicator", args=["lung", ratio]) + "?download=alliances": [
            "code",
            "name",
            "patients",
            "observed",
            "expected",
            "observed_over_expected",
            "oe_95_lower",
            "oe_95_upper",
            "risk_adjusted_rate",
            "rate_95_lower",
            "rate_95_upper",
            "compared_with_expected",
            *SHRUNKEN_RATIO,
        ],
        reverse("indicator", args=["lung", ratio]) + "?download=calibration": [
            "group",
            "patients",
            "mean_predicted",
            "observed",
            "expected_events",
            "observed_events",
        ],
        reverse("indicator", args=["lung", ratio]) + "?download=coefficients": [
            "term",
            "odds_ratio",
            "odds_ratio_95_lower",
            "odds_ratio_95_upper",
            "p",
        ],
        reverse("trust", args=[code]) + "?download=lung": [
            "indicator",
            "period",
            "value",
            "value_95_lower",
            "value_95_upper",
            "counts",
            "cancer_alliance",
            "england",
            "compared_with_expected",
            "sentence",
        ],
        reverse("alliance", args=[alliance]) + "?download=lung:england": [
            "indicator",
            "period",
            "alliance",
            "alliance_95_lower",
            "alliance_95_upper",
            "england",
            "compared_with_expected",
        ],
        reverse("trust-trend", args=[code, "lung", plain]) + "?download=quarters": [
            "quarter",
            "numerator",
            "denominator",
            "value",
            "spc_point_type",
            "spc_rule",
        ],
        reverse("trust-flag-check", args=[code, "lung", plain]) + "?download=years": [
            "period",
            "value",
            "value_95_lower",
            "value_95_upper",
            "england",
            "observed_minus_expected",
            "observed_minus_expected_95_lower",
            "observed_minus_expected_95_upper",
            "flag",
        ],
    }
    assert RunIndicator.objects.get(run=run, indicator=ratio).model_card.get("fitted", True) is not False
    for url, header in expected.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert next(csv.reader(io.StringIO(response.content.decode()))) == header, url
    # The alliance's grid is tidy: one trust and indicator a row, its value and its flag in columns of their own.
    grid = client.get(reverse("alliance", args=[alliance]) + "?download=lung:grid").content.decode()
    rows = list(csv.reader(io.StringIO(grid)))
    assert rows[0] == [
        "trust_code",
        "trust",
        "indicator_code",
        "indicator",
        "period",
        "value",
        "compared_with_expected",
    ]
    titles = {d.code: d.title for d in indicators_for("lung")}
    assert {row[2] for row in rows[1:]} <= set(titles) and {row[3] for row in rows[1:]} <= set(titles.values())
    assert len({row[0] for row in rows[1:]}) > 1 and all("(" not in row[5] for row in rows[1:])


def test_no_page_writes_once_its_runs_pieces_are_built(client, demo):
    """Trend and "is this flag real?" panels included on their first visit: they are derived, never stored."""
    run = demo["runs"]["bowel"]
    code = busiest_trust(run)
    alliance = Trust.objects.get(code=code).alliance_id
    ratio = next(d.code for d in indicators_for("bowel") if d.risk_adjusted)
    urls = [
        reverse("home"),
        reverse("search") + "?q=university",
        reverse("audit", args=["bowel"]),
        reverse("indicator", args=["bowel", ratio]) + f"?highlight={code}",
        reverse("trust", args=[code]),
        reverse("trust", args=[code]) + "?download=bowel",
        reverse("alliance", args=[alliance]),
        reverse("trust-trend", args=[code, "bowel", ratio]),
        reverse("alliance-trend", args=[alliance, "bowel", ratio]),
        reverse("trust-flag-check", args=[code, "bowel", ratio]),
    ]
    before = FigureSpec.objects.count()
    selectors.DERIVED.clear()
    selectors.CACHE.clear()
    with CaptureQueriesContext(connection) as queries:
        for url in urls:
            assert client.get(url).status_code == 200, url
    assert [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])] == []
    assert FigureSpec.objects.count() == before
    assert client.login(username="dash-analyst", password=ANALYST_PASSWORD)
    client.get(reverse("home"))  # the session's own bookkeeping, once
    with CaptureQueriesContext(connection) as queries:
        for url in [*urls, reverse("data-quality", args=["bowel"])]:
            assert client.get(url).status_code == 200, url
    assert [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])] == []


def test_reading_the_pieces_of_a_run_nobody_has_built_writes_nothing_and_says_so(demo):
    run = demo["runs"]["lung"]
    FigureSpec.objects.filter(run=run).delete()
    with CaptureQueriesContext(connection) as queries, pytest.raises(selectors.PiecesNotBuilt) as unbuilt:
        selectors.pieces({run: {audit_key("public"): AuditPiece}})
    assert unbuilt.value.runs == [run]
    assert [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])] == []
    assert not FigureSpec.objects.filter(run=run).exists()
