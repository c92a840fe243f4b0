"""Result rows stored by COPY read back exactly as the ORM would store them."""

import datetime as dt

import numpy as np
import pytest
from django.db import connection

from audits.models import Audit
from indicators.bulk import insert_rows
from indicators.models import ComputationRun, IndicatorResult, TrendSeries
from tests.alerts.world import make_release

AWKWARD_TEXT = 'A "quoted", comma\nnew line, back\\slash, \\N and NULL'


def _row(run, release, **values):
    return {
        "run_id": run.pk,
        "release_id": release.pk,
        "audit_code": release.audit_id,
        "indicator": "early_stage",
        "level": "provider",
        "organisation": "RTH",
        "period": "2024/25",
        "period_start": dt.date(2024, 4, 1),
        "period_end": dt.date(2025, 3, 31),
        "numerator": 7,
        "denominator": 19,
        **values,
    }


@pytest.fixture
def bowel_release(db):
    return make_release(Audit.objects.create(code="bowel", name="Bowel"), 1)


@pytest.fixture
def run(bowel_release):
    return ComputationRun.objects.create(release=bowel_release)


@pytest.mark.django_db
def test_awkward_values_read_back_as_stored_by_the_orm(run, bowel_release):
    values = {
        "value": 7 / 19,  # a float that needs all its digits
        "z": np.float64(-1.2345678901234567),  # numpy's own float, as the computation gives
        "ci_lower": None,
        "note": AWKWARD_TEXT,
        "eligible": False,
        "public": {"value": 0.25, "text": 'say "hi", then\nleave', "nothing": None},
    }
    insert_rows(IndicatorResult, [_row(run, bowel_release, organisation="RTH", **values)])
    IndicatorResult.objects.bulk_create([IndicatorResult(**_row(run, bowel_release, organisation="REF", **values))])
    copied, ormed = (IndicatorResult.objects.get(run=run, organisation=code) for code in ("RTH", "REF"))
    for field in IndicatorResult._meta.concrete_fields:
        if field.name not in ("id", "organisation"):
            assert getattr(copied, field.attname) == getattr(ormed, field.attname), field.name
    assert copied.note == AWKWARD_TEXT and copied.z == -1.2345678901234567 and copied.ci_lower is None


@pytest.mark.django_db
def test_a_field_left_out_takes_its_default_and_an_empty_text_is_not_null(run, bowel_release):
    insert_rows(IndicatorResult, [_row(run, bowel_release, note="")])
    stored = IndicatorResult.objects.get(run=run)
    assert (stored.note, stored.flag, stored.eligible, stored.suppressed, stored.public) == (
        "",
        "none",
        True,
        False,
        None,
    )


@pytest.mark.django_db
def test_json_null_and_json_values(run):
    insert_rows(
        TrendSeries,
        [
            {"run_id": run.pk, "indicator": "x", "level": "provider", "organisation": "RTH", "points": [], "xmr": None},
            {"run_id": run.pk, "indicator": "x", "level": "provider", "organisation": "REF", "points": [{"a": 1}]},
        ],
    )
    stored = {t.organisation: (t.points, t.xmr) for t in TrendSeries.objects.filter(run=run)}
    assert stored == {"RTH": ([], None), "REF": ([{"a": 1}], None)}


@pytest.mark.django_db
def test_an_unknown_field_is_refused(run):
    with pytest.raises(TypeError, match="no field colour"):
        insert_rows(TrendSeries, [{"run_id": run.pk, "indicator": "x", "colour": "red"}])


def test_the_rows_are_copied_on_postgresql():
    # The suite runs on PostgreSQL (as CI does): the tests above exercise COPY, not bulk_create.
    assert connection.vendor == "postgresql"
