"""Tests for the synthetic demo-data generator (audits/demo/engine.py), which reads any audit definition.

Plain pytest, no database. The checks of the extract format are written here from the YAML definitions,
independently of the generator, so a generator bug cannot hide behind a shared helper.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from audits.demo import engine as demo
from audits.schema import load_definition

ROOT = Path(__file__).resolve().parents[1]
TRUSTS = pd.read_csv(ROOT / "audits/seed/trusts.csv", dtype=str, keep_default_na=False)
SUCCESSORS = pd.read_csv(ROOT / "audits/seed/successors.csv", dtype=str, keep_default_na=False)
FILES = {path.stem: path for path in sorted((ROOT / "audits/definitions").glob("*.yaml"))}
FILES["mesothelioma"] = ROOT / "tests/fixtures/definitions/mesothelioma.yaml"  # a registry with no demo section
SHIPPED = sorted(set(FILES) - {"mesothelioma"})
DEFINITIONS = {code: load_definition(path) for code, path in FILES.items()}
RAW = {code: yaml.safe_load(path.read_text(encoding="utf-8")) for code, path in FILES.items()}
BOWEL, LUNG = DEFINITIONS["bowel"], DEFINITIONS["lung"]
# An extract date whose three audit years (Apr 2019 - Mar 2022) span both mergers
# in successors.csv, and one falling on the last day of the period (most truncation).
MERGER_EXTRACT = dt.date(2022, 6, 30)
PERIOD_END_EXTRACT = dt.date(2024, 3, 31)
RECENT_EXTRACT = dt.date(2025, 6, 30)
NON_ACUTE = re.compile(
    r"community|mental|partnership|ambulance|health and care|social care|great ormond street",
    re.IGNORECASE,
)


def _blank(series: pd.Series) -> pd.Series:
    return series.eq("")


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.where(series.ne("")), format="%Y-%m-%d", errors="coerce")


def _yaml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _condition(frame: pd.DataFrame, when: dict) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in when.items():
        values = value if isinstance(value, list) else [value]
        mask &= frame[column].isin([_yaml_value(v) for v in values])
    return mask


def violations(frame: pd.DataFrame, audit: str, extract_date: dt.date) -> list[str]:
    """Every breach of the audit definition's column specs and rules, as messages."""
    extract = RAW[audit]["extract"]
    known_providers = set(TRUSTS["trust_code"]) | set(SUCCESSORS["predecessor_code"])
    limit = pd.Timestamp(extract_date)
    problems: list[str] = []

    def report(mask: pd.Series, message: str) -> None:
        if mask.any():
            problems.append(f"{message}: {int(mask.sum())} rows, e.g. {frame.index[mask][:3].tolist()}")

    for spec in extract["columns"]:
        name, kind = spec["name"], spec["type"]
        col = frame[name]
        blank = _blank(col)
        report(col.isna(), f"{name} has nulls instead of blanks")
        if spec.get("required"):
            report(blank, f"{name} required but blank")
        if spec.get("unique"):
            report(col.duplicated(keep=False) & ~blank, f"{name} not unique")
        if kind == "provider":
            report(~col.isin(known_providers) & ~blank, f"{name} unknown code")
        elif kind == "code":
            report(~col.isin([str(c) for c in spec["codes"]]) & ~blank, f"{name} not an allowed code")
        elif kind == "boolean":
            report(~col.isin(["true", "false"]) & ~blank, f"{name} not a boolean")
        elif kind == "integer":
            digits = col.str.fullmatch(r"-?\d+")
            report(~digits & ~blank, f"{name} not an integer")
            values = pd.to_numeric(col.where(digits), errors="coerce")
            if "min" in spec:
                report(values < spec["min"], f"{name} below {spec['min']}")
            if "max" in spec:
                report(values > spec["max"], f"{name} above {spec['max']}")
        elif kind == "date":
            parsed = _dates(col)
            report(~col.str.fullmatch(r"\d{4}-\d{2}-\d{2}") & ~blank, f"{name} not YYYY-MM-DD")
            report(parsed.isna() & ~blank, f"{name} not a date")
            if spec.get("not_after_extract_date"):
                report(parsed > limit, f"{name} after the extract date")

    for rule in extract.get("rules", []):
        column = rule["column"]
        blank = _blank(frame[column])
        if rule["type"] == "required_when":
            report(_condition(frame, rule["when"]) & blank, f"{column} required when {rule['when']}")
        elif rule["type"] == "blank_unless":
            report(~_condition(frame, rule["when"]) & ~blank, f"{column} present unless {rule['when']}")
        elif rule["type"] == "not_before":
            report(_dates(frame[column]) < _dates(frame[rule["reference"]]), f"{column} before {rule['reference']}")
        else:  # pragma: no cover - a new rule type needs a check here
            problems.append(f"unchecked rule type {rule['type']}")
    return problems


@pytest.fixture(scope="module")
def bowel_200k() -> pd.DataFrame:
    return demo.generate_extract(BOWEL, 200_000, 11, RECENT_EXTRACT, TRUSTS, SUCCESSORS)


@pytest.fixture(scope="module")
def lung_100k() -> pd.DataFrame:
    return demo.generate_extract(LUNG, 100_000, 11, RECENT_EXTRACT, TRUSTS, SUCCESSORS)


@pytest.fixture(scope="module")
def merger_extracts() -> dict[str, pd.DataFrame]:
    return {
        audit: demo.generate_extract(DEFINITIONS[audit], 40_000, 5, MERGER_EXTRACT, TRUSTS, SUCCESSORS)
        for audit in ("bowel", "lung")
    }


# --- API, determinism, format -------------------------------------------------


def test_it_is_deterministic_for_the_same_seed() -> None:
    for audit in ("bowel", "lung", "mesothelioma"):
        definition = DEFINITIONS[audit]
        a = demo.generate_extract(definition, 3_000, 42, MERGER_EXTRACT, TRUSTS, SUCCESSORS)
        b = demo.generate_extract(definition, 3_000, 42, MERGER_EXTRACT, TRUSTS, SUCCESSORS)
        pd.testing.assert_frame_equal(a, b)
        c = demo.generate_extract(definition, 3_000, 43, MERGER_EXTRACT, TRUSTS, SUCCESSORS)
        assert not a.equals(c)
        ids = definition.patient_id
        assert (a[ids] != c[ids]).mean() > 0.99


def test_it_does_not_depend_on_the_order_of_the_trust_list() -> None:
    shuffled = TRUSTS.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = demo.generate_extract(BOWEL, 2_000, 9, RECENT_EXTRACT, TRUSTS)
    b = demo.generate_extract(BOWEL, 2_000, 9, RECENT_EXTRACT, shuffled)
    pd.testing.assert_frame_equal(a, b)
    assert demo.planted_outliers(BOWEL, 9, TRUSTS) == demo.planted_outliers(BOWEL, 9, shuffled)


@pytest.mark.parametrize("audit", sorted(FILES))
def test_it_has_the_definition_columns_in_order(audit: str) -> None:
    expected = [c["name"] for c in RAW[audit]["extract"]["columns"]]
    frame = demo.generate_extract(DEFINITIONS[audit], 500, 1, RECENT_EXTRACT, TRUSTS)
    assert list(frame.columns) == expected
    for name in expected:
        assert pd.api.types.is_string_dtype(frame[name].dtype), name
        assert not frame[name].isna().any(), name


def test_it_handles_zero_rows() -> None:
    for audit in ("lung", "mesothelioma"):
        frame = demo.generate_extract(DEFINITIONS[audit], 0, 1, RECENT_EXTRACT, TRUSTS, SUCCESSORS)
        assert frame.shape == (0, len(RAW[audit]["extract"]["columns"]))


def test_it_rejects_negative_seeds_and_rows() -> None:
    with pytest.raises(ValueError):
        demo.planted_outliers(BOWEL, -1, TRUSTS)
    with pytest.raises(ValueError):
        demo.generate_extract(BOWEL, -1, 1, RECENT_EXTRACT, TRUSTS)


@pytest.mark.parametrize("audit", sorted(FILES))
@pytest.mark.parametrize("extract_date", [MERGER_EXTRACT, PERIOD_END_EXTRACT, RECENT_EXTRACT])
def test_every_value_obeys_the_definition(audit: str, extract_date: dt.date) -> None:
    """Every shipped audit, and a registry with no demo section (its columns, codes, ranges and rules alone)."""
    frame = demo.generate_extract(DEFINITIONS[audit], 30_000, 3, extract_date, TRUSTS, SUCCESSORS)
    assert violations(frame, audit, extract_date) == []
    for spec in RAW[audit]["extract"]["columns"]:  # every value of a column appears, not one constant
        if spec["type"] in ("code", "boolean") and not spec.get("applies_when"):
            assert frame[spec["name"]].ne("").any(), spec["name"]


def test_the_checker_catches_breaches(merger_extracts: dict[str, pd.DataFrame]) -> None:
    frame = merger_extracts["bowel"].head(200).copy()
    resected = frame.index[frame["major_resection"].eq("true")][0]
    kept = frame.index[frame["major_resection"].eq("false")][0]
    frame.loc[resected, "surgery_date"] = ""
    frame.loc[kept, "asa_grade"] = "3"
    frame.loc[frame.index[5], "stage"] = "5"
    frame.loc[frame.index[6], "patient_id"] = frame.loc[frame.index[7], "patient_id"]
    frame.loc[frame.index[8], "death_date"] = "2030-01-01"
    messages = " | ".join(violations(frame, "bowel", MERGER_EXTRACT))
    for expected in (
        "surgery_date required",
        "asa_grade present",
        "stage not an allowed",
        "patient_id not unique",
        "death_date after the extract date",
    ):
        assert expected in messages


# --- Providers -----------------------------------------------------------------


def test_it_uses_only_plausible_acute_providers(bowel_200k: pd.DataFrame, lung_100k: pd.DataFrame) -> None:
    names = dict(zip(TRUSTS["trust_code"], TRUSTS["trust_name"], strict=True))
    predecessors = set(SUCCESSORS["predecessor_code"])
    for frame in (bowel_200k, lung_100k):
        codes = set(frame["provider_code"]) - predecessors
        assert codes <= set(names)
        assert not [c for c in codes if NON_ACUTE.search(names[c])]
        assert len(codes) > 100


def test_provider_volumes_are_skewed() -> None:
    frame = demo.generate_extract(BOWEL, 100_000, 11, RECENT_EXTRACT, TRUSTS)
    per_year = frame["provider_code"].value_counts() / 3
    assert (per_year < 30).sum() >= 2  # a few small providers
    assert per_year.max() > 3 * per_year.median()
    assert per_year.quantile(0.9) > 2 * per_year.quantile(0.1)


def test_predecessor_codes_appear_only_before_the_merger(merger_extracts: dict[str, pd.DataFrame]) -> None:
    for frame in merger_extracts.values():
        dx = _dates(frame["diagnosis_date"])
        eligible = pd.Series(False, index=frame.index)
        for row in SUCCESSORS.itertuples(index=False):
            pred = frame["provider_code"].eq(row.predecessor_code)
            assert pred.any(), row.predecessor_code
            assert (dx[pred] < pd.Timestamp(row.effective_from)).all()
            before = dx < pd.Timestamp(row.effective_from)
            eligible |= before & frame["provider_code"].isin([row.predecessor_code, row.successor_code])
        # About 1% of rows; all pre-merger rows when the successor trusts are small.
        share = frame["provider_code"].isin(SUCCESSORS["predecessor_code"]).mean()
        assert share <= eligible.mean()
        assert share == pytest.approx(min(0.01, eligible.mean()), abs=0.002)


def test_no_predecessor_codes_without_successors() -> None:
    frame = demo.generate_extract(BOWEL, 20_000, 5, MERGER_EXTRACT, TRUSTS)
    assert not frame["provider_code"].isin(SUCCESSORS["predecessor_code"]).any()


# --- Dates ---------------------------------------------------------------------


@pytest.mark.parametrize("extract_date", [MERGER_EXTRACT, RECENT_EXTRACT])
def test_diagnoses_span_three_audit_years_thinning_at_the_end(
    extract_date: dt.date, merger_extracts: dict[str, pd.DataFrame], bowel_200k: pd.DataFrame
) -> None:
    frame = bowel_200k if extract_date == RECENT_EXTRACT else merger_extracts["bowel"]
    end = pd.Timestamp(extract_date.year - 1 if extract_date.month < 4 else extract_date.year, 3, 31)
    start = pd.Timestamp(end.year - 3, 4, 1)
    dx = _dates(frame["diagnosis_date"])
    assert dx.min() >= start and dx.max() <= end
    assert dx.min() < start + pd.Timedelta(days=10) and dx.max() > end - pd.Timedelta(days=10)
    per_year = dx.groupby((dx - start).dt.days // 365).size()
    assert per_year.iloc[:3].min() > 0.85 * per_year.iloc[:3].max()
    last90 = dx > end - pd.Timedelta(days=90)
    daily_last = last90.sum() / 90
    daily_before = (~last90).sum() / ((end - start).days + 1 - 90)
    assert daily_last < 0.9 * daily_before
    assert daily_last > 0.5 * daily_before


def test_bowel_dates_follow_the_pathway(bowel_200k: pd.DataFrame) -> None:
    f = bowel_200k
    dx, surgery, death = (_dates(f[c]) for c in ("diagnosis_date", "surgery_date", "death_date"))
    resected = f["major_resection"].eq("true")
    delay = (surgery - dx).dt.days
    fewest, most = RAW["bowel"]["demo"]["columns"]["surgery_date"]["days"]
    assert delay[resected].between(fewest, most).all()
    assert surgery[~resected].isna().all()
    elective = resected & f["route_to_diagnosis"].isin(["gp_referral", "two_week_wait", "screening", "other"])
    emergency = resected & f["route_to_diagnosis"].eq("emergency")
    assert delay[emergency].median() < delay[elective].median() / 3  # the emergency effect: operated sooner
    assert f.loc[~resected, ["asa_grade", "readmitted_30d"]].eq("").all().all()
    assert (death.dropna() >= dx[death.notna()]).all()


def test_lung_treatment_dates_follow_the_intent(lung_100k: pd.DataFrame) -> None:
    f = lung_100k
    treated = f["treatment_intent"].isin(["curative", "palliative"])
    ftd = _dates(f["first_treatment_date"])
    assert ftd[treated].notna().all() and ftd[~treated].isna().all()
    delay = (ftd - _dates(f["diagnosis_date"])).dt.days[treated]
    assert delay.between(10, 90).all()
    assert 30 <= delay.median() <= 50
    untreated = ~treated
    assert f.loc[untreated, ["surgery", "radical_radiotherapy", "sact"]].eq("false").all().all()
    curative = f["treatment_intent"].eq("curative")
    # Radical radiotherapy is drawn at its declared rate among curative plans without surgery: nearly all of them.
    treated_curatively = f.loc[curative, ["surgery", "radical_radiotherapy", "sact"]].eq("true").any(axis=1)
    assert treated_curatively.mean() >= RAW["lung"]["demo"]["columns"]["radical_radiotherapy"]["rate"] - 0.01


# --- Rates and case-mix ---------------------------------------------------------


def _share(series: pd.Series, value: str) -> float:
    return float(series.eq(value).mean())


def test_bowel_rates_are_realistic(bowel_200k: pd.DataFrame) -> None:
    f = bowel_200k
    limit = pd.Timestamp(RECENT_EXTRACT)
    dx, surgery, death = (_dates(f[c]) for c in ("diagnosis_date", "surgery_date", "death_date"))
    resected = f["major_resection"].eq("true")
    assert 0.50 < resected.mean() < 0.60
    followed = resected & (surgery <= limit - pd.Timedelta(days=90))
    died90 = (death - surgery).dt.days <= 90
    assert 0.022 < died90[followed].mean() < 0.04
    two_years = dx <= limit - pd.Timedelta(days=730)
    assert 0.26 < ((death - dx).dt.days <= 730)[two_years].mean() < 0.34
    readmit = f["readmitted_30d"][resected & (surgery <= limit - pd.Timedelta(days=30))]
    assert 0.08 < _share(readmit, "true") < 0.12
    assert 0.17 < _share(f["route_to_diagnosis"], "emergency") < 0.23
    assert 0.66 < _share(f["cancer_site"], "colon") < 0.74
    for stage, share in {"1": 0.15, "2": 0.25, "3": 0.30, "4": 0.22, "U": 0.08}.items():
        assert abs(_share(f["stage"], stage) - share) < 0.02, stage
    assert 0.06 < _share(f["performance_status"], "") < 0.10
    mdt = f["mdt_discussed"][f["mdt_discussed"].ne("")]
    assert 0.85 < _share(mdt, "true") < 0.95
    assert 0 < _share(f["mdt_discussed"], "") < 0.06
    age = f["age"].astype(int)
    assert 68 < age.mean() < 72 and 9 < age.std() < 13 and age.between(18, 100).all()


def test_case_mix_drives_stage_and_outcomes(bowel_200k: pd.DataFrame) -> None:
    f = bowel_200k
    late = f["stage"].eq("4")
    assert late[f["imd_quintile"].eq("1")].mean() > late[f["imd_quintile"].eq("5")].mean() + 0.03
    assert (
        late[f["route_to_diagnosis"].eq("emergency")].mean()
        > late[f["route_to_diagnosis"].eq("two_week_wait")].mean() + 0.1
    )
    resected = f["major_resection"].eq("true")
    assert resected[f["stage"].eq("2")].mean() > resected[f["stage"].eq("4")].mean() + 0.3
    assert resected[f["performance_status"].eq("0")].mean() > resected[f["performance_status"].eq("4")].mean() + 0.3
    surgery, death = _dates(f["surgery_date"]), _dates(f["death_date"])
    followed = resected & (surgery <= pd.Timestamp(RECENT_EXTRACT) - pd.Timedelta(days=90))
    died90 = ((death - surgery).dt.days <= 90)[followed]
    asa = f["asa_grade"][followed]
    assert died90[asa.isin(["4", "5"])].mean() > 3 * died90[asa.isin(["1", "2"])].mean()
    age = f["age"][followed].astype(int)
    assert died90[age >= 80].mean() > 2 * died90[age < 65].mean()


def test_lung_rates_are_realistic(lung_100k: pd.DataFrame) -> None:
    f = lung_100k
    limit = pd.Timestamp(RECENT_EXTRACT)
    dx, death = _dates(f["diagnosis_date"]), _dates(f["death_date"])
    year = dx <= limit - pd.Timedelta(days=365)
    assert 0.50 < ((death - dx).dt.days <= 365)[year].mean() < 0.60
    assert 0.82 < _share(f["histology"], "nsclc") < 0.88
    assert 0.10 < _share(f["histology"], "sclc") < 0.14
    for stage, share in {"1": 0.20, "2": 0.10, "3A": 0.10, "3B": 0.06, "3C": 0.03, "4": 0.45, "U": 0.06}.items():
        assert abs(_share(f["stage"], stage) - share) < 0.02, stage
    assert 0.30 < _share(f["route_to_diagnosis"], "emergency") < 0.36
    assert 0.65 < _share(f["pathological_confirmation"], "true") < 0.75
    assert 0.74 < _share(f["cns_seen"], "true") < 0.84
    nsclc, ps, stage = f["histology"].eq("nsclc"), f["performance_status"], f["stage"]
    early_fit = nsclc & stage.isin(["1", "2"]) & ps.isin(["0", "1", "2"])
    assert 0.68 < _share(f["treatment_intent"][early_fit], "curative") < 0.82
    advanced_good = nsclc & stage.isin(["3B", "3C", "4"]) & ps.isin(["0", "1"])
    assert 0.52 < _share(f["sact"][advanced_good], "true") < 0.68
    assert 0.62 < _share(f["sact"][f["histology"].eq("sclc")], "true") < 0.78
    assert 0.10 < _share(f["surgery"][nsclc], "true") < 0.20
    path = f["pathological_confirmation"]
    assert _share(path[stage.isin(["1", "2"]) & ps.isin(["0", "1"])], "true") > _share(path[stage.eq("4")], "true")


# --- Planted outliers and provider variation ------------------------------------


@pytest.mark.parametrize("audit,count", [("bowel", 3), ("lung", 2)])
def test_planted_outliers_are_deterministic_moderate_volume_trusts(audit: str, count: int) -> None:
    outcome = {"bowel": "mortality_90d", "lung": "mortality_1y"}[audit]
    definition = DEFINITIONS[audit]
    planted = demo.planted_outliers(definition, 11, TRUSTS)
    assert planted == demo.planted_outliers(definition, 11, TRUSTS)
    assert outcome in planted and len(planted[outcome]) == count
    better = demo.planted_better(definition, 11, TRUSTS)[outcome]
    assert 1 <= len(better) <= 2 and not set(better) & set(planted[outcome])
    seeds = {tuple(demo.planted_outliers(definition, s, TRUSTS)[outcome]) for s in range(6)}
    assert len(seeds) > 1
    frame = demo.generate_extract(definition, 50_000, 11, RECENT_EXTRACT, TRUSTS)
    volumes = frame["provider_code"].value_counts()
    assert (volumes.reindex(planted[outcome] + better) >= 0.8 * volumes.median()).all()


def test_planted_worse_providers_have_higher_90_day_mortality(bowel_200k: pd.DataFrame) -> None:
    f = bowel_200k
    surgery, death = _dates(f["surgery_date"]), _dates(f["death_date"])
    followed = f["major_resection"].eq("true") & (surgery <= pd.Timestamp(RECENT_EXTRACT) - pd.Timedelta(days=90))
    died = pd.Series(((death - surgery).dt.days <= 90)[followed].to_numpy(), index=f["provider_code"][followed])
    national = died.mean()
    by_trust = died.groupby(level=0).mean()
    worse = demo.planted_outliers(BOWEL, 11, TRUSTS)["mortality_90d"]
    better = demo.planted_better(BOWEL, 11, TRUSTS)["mortality_90d"]
    assert (by_trust[worse] > national).all()
    assert died[died.index.isin(worse)].mean() > 1.6 * national
    assert died[died.index.isin(better)].mean() < national
    # Outside the planted trusts there is some, but modest, variation.
    others = by_trust.drop(worse + better)
    assert others.median() == pytest.approx(national, rel=0.25)


def test_planted_worse_providers_have_higher_1_year_mortality(lung_100k: pd.DataFrame) -> None:
    f = lung_100k
    dx, death = _dates(f["diagnosis_date"]), _dates(f["death_date"])
    followed = dx <= pd.Timestamp(RECENT_EXTRACT) - pd.Timedelta(days=365)
    died = pd.Series(((death - dx).dt.days <= 365)[followed].to_numpy(), index=f["provider_code"][followed])
    worse = demo.planted_outliers(LUNG, 11, TRUSTS)["mortality_1y"]
    assert (died.groupby(level=0).mean()[worse] > died.mean() + 0.05).all()


def test_process_measures_vary_between_providers(bowel_200k: pd.DataFrame, lung_100k: pd.DataFrame) -> None:
    for frame, column in ((bowel_200k, "mdt_discussed"), (lung_100k, "cns_seen")):
        recorded = frame[frame[column].ne("")]
        rates = recorded[column].eq("true").groupby(recorded["provider_code"]).agg(["mean", "size"])
        rates = rates[rates["size"] >= 300]["mean"]
        assert rates.quantile(0.9) - rates.quantile(0.1) > 0.08, column


# --- Writing --------------------------------------------------------------------


def test_write_extract_round_trips(tmp_path: Path, merger_extracts: dict[str, pd.DataFrame]) -> None:
    for audit, frame in merger_extracts.items():
        path = tmp_path / f"{audit}.csv"
        demo.write_extract(frame, path)
        raw = path.read_bytes()
        assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf")
        assert raw.split(b"\n", 1)[0].decode() == ",".join(DEFINITIONS[audit].column_names)
        back = pd.read_csv(path, dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_write_extract_quotes_values_that_need_it(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": ["x, y", 'say "hi"', ""], "b": ["1", "2", "3"]})
    path = tmp_path / "quoted.csv"
    demo.write_extract(frame, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert b"\r" not in path.read_bytes()


# --- Any audit, from its definition ----------------------------------------------


def test_a_big_trust_is_big_in_every_audit() -> None:
    """Trust sizes are the trust's, not drawn per audit: the busiest bowel trust cannot be a small lung trust
    (it was: "too few patients" on every lung indicator)."""
    volumes = {audit: demo.trust_weights(DEFINITIONS[audit], 2026, TRUSTS) for audit in SHIPPED + ["mesothelioma"]}
    bowel = volumes["bowel"]
    busiest = bowel.idxmax()
    for audit, weights in volumes.items():
        shared = weights.index.intersection(bowel.index)
        assert weights[busiest] > 2 * weights.median(), audit
        assert weights[busiest] >= weights.quantile(0.9), audit
        ranks = pd.concat([bowel[shared], weights[shared]], axis=1).rank()
        assert ranks.corr().iloc[0, 1] > 0.8, audit
    frame = demo.generate_extract(LUNG, 20_000, 2026, RECENT_EXTRACT, TRUSTS)
    per_year = frame["provider_code"].value_counts() / 3
    assert per_year[busiest] > 2 * per_year.median()


def test_declared_national_rates_are_met() -> None:
    """A boolean's declared rate is its national rate (calibrated), where nothing but its model decides it (no
    condition, not undone by an event after the extract date)."""
    checked = []
    for audit in SHIPPED:
        definition = DEFINITIONS[audit]
        assert definition.demo is not None, f"{audit} has no demo section"
        frame = demo.generate_extract(definition, 40_000, 4, RECENT_EXTRACT, TRUSTS)
        gates = {name for rule in definition.rules for name, _ in rule.when}
        for model in definition.demo.columns:
            if model.rate is None or model.when or model.column in gates:
                continue
            if definition.column(model.column).applies_when:
                continue
            values = frame[model.column][frame[model.column].ne("")]
            assert _share(values, "true") == pytest.approx(model.rate, abs=0.02), (audit, model.column)
            checked.append((audit, model.column))
    assert len(checked) >= 20 and len({audit for audit, _ in checked}) >= 7


@pytest.mark.parametrize(
    "audit, stage, early",
    [("bowel", "stage", ["1", "2"]), ("lung", "stage", ["1", "2"]), ("og", "stage", ["1", "2"])],
)
def test_the_planted_deprivation_gradient_shows_in_early_diagnosis(audit: str, stage: str, early: list[str]) -> None:
    frame = demo.generate_extract(DEFINITIONS[audit], 100_000, 7, RECENT_EXTRACT, TRUSTS)
    codes = DEFINITIONS[audit].column(stage)
    known = frame[frame[stage].isin([c for c in codes.codes if c not in codes.unknown_codes])]
    share = known[stage].isin(early).groupby(known["imd_quintile"]).mean()
    assert share["1"] < share["3"] < share["5"]
    assert share["5"] - share["1"] > 0.02


def test_a_registry_with_no_demo_section_gets_every_code_and_its_rules() -> None:
    meso = DEFINITIONS["mesothelioma"]
    assert meso.demo is None
    frame = demo.generate_extract(meso, 5_000, 1, RECENT_EXTRACT, TRUSTS)
    assert set(frame["subtype"]) == {"epithelioid", "sarcomatoid", "biphasic", "nos"}
    assert frame["age"].astype(int).between(18, 110).all()
    chemo = frame["chemotherapy"].eq("true")
    assert frame["chemotherapy_date"][chemo].ne("").all() and frame["chemotherapy_date"][~chemo].eq("").all()
    assert demo.planted_outliers(meso, 1, TRUSTS) == {}
