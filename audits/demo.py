"""Synthetic demo extracts for the national cancer audits (bowel, lung).

Pure module: numpy, pandas and pyarrow only; no Django, no I/O except
:func:`write_extract`. Everything is vectorised over patients, so a million
bowel rows take a few seconds.

The generator is a small structural model rather than independent columns:

* Providers are the plausible acute trusts in the seed list, with skewed
  (log-normal) volumes, provider-level deprivation of their catchment, and
  provider random effects on processes (MDT discussion, CNS contact, resection,
  recording completeness) and, more weakly, on outcomes.
* Patients get case-mix (age, sex, IMD quintile, Charlson count, route to
  diagnosis, stage, performance status) with the usual dependencies:
  deprivation and emergency presentation shift stage later, screening earlier.
* Treatments and outcomes come from logistic models of the case-mix whose
  intercepts are calibrated so that the national rates match published
  magnitudes (NBOCA and NLCA annual reports; docs/domain.md sections 1.1, 1.2, 1.6). Missing values are a
  recording artefact only: the true value still drives the outcomes, as in
  real audit data.
* A few providers of at least median volume are planted with truly worse
  (odds ratio 2.5) or better outcomes; :func:`planted_outliers` names them so a
  demo or test can check the funnel plot flags them.

Random streams come from ``numpy.random.SeedSequence([seed, audit, stream])``:
the provider stream depends only on (audit, seed, trusts), so the planted
providers do not change with the number of rows or the extract date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

__all__ = [
    "AUDITS",
    "COLUMNS",
    "audit_window",
    "generate_extract",
    "planted_better",
    "planted_outliers",
    "provider_pool",
    "write_extract",
]

AUDITS = ("bowel", "lung")

# Column order of the extract definitions (audits/definitions/<audit>.yaml).
# tests/test_demo.py checks these against the YAML files.
COLUMNS: dict[str, tuple[str, ...]] = {
    "bowel": (
        "patient_id",
        "provider_code",
        "diagnosis_date",
        "age",
        "sex",
        "cancer_site",
        "stage",
        "performance_status",
        "charlson",
        "asa_grade",
        "imd_quintile",
        "route_to_diagnosis",
        "mdt_discussed",
        "major_resection",
        "surgery_date",
        "death_date",
        "readmitted_30d",
    ),
    "lung": (
        "patient_id",
        "provider_code",
        "diagnosis_date",
        "age",
        "sex",
        "imd_quintile",
        "histology",
        "stage",
        "performance_status",
        "charlson",
        "route_to_diagnosis",
        "pathological_confirmation",
        "cns_seen",
        "mdt_discussed",
        "treatment_intent",
        "surgery",
        "radical_radiotherapy",
        "sact",
        "first_treatment_date",
        "death_date",
    ),
}

# Outcome names used as keys by planted_outliers() / planted_better().
_PLANTED_OUTCOME = {"bowel": "mortality_90d", "lung": "mortality_1y"}
_PLANTED_COUNTS = {"bowel": (3, 2), "lung": (2, 1)}  # (worse, better)
_PLANTED_LOG_OR = {"worse": float(np.log(2.5)), "better": float(np.log(0.45))}

# Trusts that do not diagnose or treat adult bowel/lung cancer. The name
# patterns catch community, mental-health, ambulance and social-care trusts,
# children's and single-specialty hospitals; the codes are mental-health and
# community trusts whose names give no hint.
_EXCLUDE_NAME = re.compile(
    r"community|mental|partnership|ambulance|health and care|social care"
    r"|great ormond street|children|orthopaedic|eye hospital|women['\u2019]s"
    r"|walton centre|queen victoria hospital",
    re.IGNORECASE,
)
_NON_ACUTE_CODES = frozenset({"RAT", "RDY", "RNU", "RT1", "RT2", "RV9", "RW1", "RW4", "RWX"})
# Specialist hospitals that see few first presentations: (pattern, bowel, lung)
# volume as a fraction of the median trust; 0 excludes the trust from that audit.
_SPECIALIST_SCALE = (
    (re.compile(r"heart and chest|papworth", re.IGNORECASE), 0.0, 0.3),
    (re.compile(r"clatterbridge", re.IGNORECASE), 0.08, 0.15),
    (re.compile(r"christie", re.IGNORECASE), 0.12, 0.2),
    (re.compile(r"royal marsden", re.IGNORECASE), 0.4, 0.2),
)
_VOLUME_SIGMA_LOW, _VOLUME_SIGMA_HIGH = 0.9, 0.6

_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


# --------------------------------------------------------------------------
# Providers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Providers:
    codes: np.ndarray  # trust codes, sorted
    weights: np.ndarray  # share of patients, sums to 1
    effects: dict[str, np.ndarray]  # provider log-odds (or latent) shifts
    worse: list[str]
    better: list[str]


def _rng(seed: int, audit: str, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, AUDITS.index(audit), stream]))


def _check(audit: str, seed: int) -> None:
    if audit not in AUDITS:
        raise ValueError(f"unknown audit {audit!r}; expected one of {AUDITS}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def provider_pool(audit: str, trusts: pd.DataFrame) -> pd.DataFrame:
    """Trusts plausibly reporting to ``audit`` with a relative volume multiplier.

    Returns columns trust_code, trust_name, scale (1 for general acute trusts,
    below 1 for specialist hospitals that see few first presentations),
    sorted by trust_code so that results do not depend on the input order.
    """
    frame = trusts[["trust_code", "trust_name"]].astype(str).copy()
    frame = frame[frame["trust_code"].str.len() > 0].drop_duplicates("trust_code")
    keep = ~frame["trust_name"].str.contains(_EXCLUDE_NAME, regex=True)
    keep &= ~frame["trust_code"].isin(_NON_ACUTE_CODES)
    frame = frame[keep].sort_values("trust_code", kind="stable").reset_index(drop=True)
    scale = np.ones(len(frame))
    column = 1 if audit == "bowel" else 2
    for pattern, *scales in _SPECIALIST_SCALE:
        hit = frame["trust_name"].str.contains(pattern, regex=True).to_numpy()
        scale[hit] = scales[column - 1]
    frame["scale"] = scale
    return frame[frame["scale"] > 0].reset_index(drop=True)


def _providers(audit: str, seed: int, trusts: pd.DataFrame) -> _Providers:
    _check(audit, seed)
    pool = provider_pool(audit, trusts)
    k = len(pool)
    if k == 0:
        raise ValueError("no plausible acute provider in trusts")
    rng = _rng(seed, audit, 0)
    # Log-normal volumes at exact quantiles, randomly assigned: the shape of the
    # volume distribution is the same for every seed (so the smallest trusts
    # always have tens of patients a year), only who is big changes.
    # A split normal on the log scale: a long tail of small trusts (tens of
    # patients a year) and large trusts up to ~5 times the median.
    nd = NormalDist()
    z = np.array([nd.inv_cdf((i + 0.5) / k) for i in range(k)])[rng.permutation(k)]
    log_w = np.where(z < 0, _VOLUME_SIGMA_LOW * z, _VOLUME_SIGMA_HIGH * z)
    scale = pool["scale"].to_numpy()
    # Specialist hospitals get a fixed fraction of the median volume.
    log_w = np.where(scale < 1, np.log(scale), log_w)
    weights = np.exp(log_w)
    weights = weights / weights.sum()

    # Provider effects, drawn in a fixed order (append new ones at the end).
    sd = {
        "bowel": (
            ("dep", 0.45),
            ("emergency", 0.25),
            ("screening", 0.3),
            ("mdt", 0.8),
            ("mdt_blank", 0.8),
            ("ps_blank", 0.7),
            ("resection", 0.3),
            ("mortality_90d", 0.15),
            ("mortality_2y", 0.1),
            ("readmission", 0.2),
            ("charlson_blank", 0.8),
        ),
        "lung": (
            ("dep", 0.45),
            ("emergency", 0.3),
            ("tlhc", 1.0),
            ("pathology", 0.45),
            ("cns", 0.7),
            ("mdt", 0.8),
            ("curative", 0.4),
            ("sact", 0.35),
            ("surgery", 0.4),
            ("mortality_1y", 0.12),
            ("ps_blank", 0.7),
            ("mdt_blank", 0.8),
            ("cns_blank", 0.8),
        ),
    }[audit]
    effects = {name: rng.normal(0.0, s, k) for name, s in sd}
    if audit == "lung":
        # Targeted lung health checks run in about 40% of trusts.
        effects["tlhc"] = (rng.random(k) < 0.4).astype(float)

    n_worse, n_better = _PLANTED_COUNTS[audit]
    candidates = np.flatnonzero(weights >= np.median(weights))
    chosen = rng.choice(candidates, size=min(len(candidates), n_worse + n_better), replace=False)
    worse_idx, better_idx = chosen[:n_worse], chosen[n_worse:]
    outcome = _PLANTED_OUTCOME[audit]
    # The planted trusts get exactly the planted odds ratio (no random effect on top).
    effects[outcome] = effects[outcome].copy()
    effects[outcome][worse_idx] = _PLANTED_LOG_OR["worse"]
    effects[outcome][better_idx] = _PLANTED_LOG_OR["better"]
    codes = pool["trust_code"].to_numpy(dtype=object)
    return _Providers(
        codes=codes,
        weights=weights,
        effects=effects,
        worse=sorted(codes[worse_idx].tolist()),
        better=sorted(codes[better_idx].tolist()),
    )


def planted_outliers(audit: str, seed: int, trusts: pd.DataFrame) -> dict[str, list[str]]:
    """Outcome name -> trust codes whose outcomes were made truly worse.

    Bowel: ``mortality_90d`` (90-day post-operative mortality, odds ratio 2.5),
    three trusts. Lung: ``mortality_1y`` (1-year mortality after diagnosis,
    odds ratio 2.5), two trusts. All have at least median volume. Depends only
    on (audit, seed, trusts), not on the number of rows or the extract date.
    """
    p = _providers(audit, seed, trusts)
    return {_PLANTED_OUTCOME[audit]: list(p.worse)}


def planted_better(audit: str, seed: int, trusts: pd.DataFrame) -> dict[str, list[str]]:
    """Outcome name -> trust codes whose outcomes were made truly better (odds ratio 0.45)."""
    p = _providers(audit, seed, trusts)
    return {_PLANTED_OUTCOME[audit]: list(p.better)}


# --------------------------------------------------------------------------
# Vectorised helpers
# --------------------------------------------------------------------------


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _intercept(lp: np.ndarray, target: float) -> float:
    """Intercept b with mean(expit(lp + b)) == target (Newton's method)."""
    b = float(np.log(target / (1.0 - target)))
    if lp.size == 0:
        return b
    b -= float(np.median(lp))
    for _ in range(50):
        p = _expit(lp + b)
        gap = float(p.mean()) - target
        if abs(gap) < 1e-9:
            break
        b -= gap / max(float((p * (1.0 - p)).mean()), 1e-12)
    return b


def _draw(rng: np.random.Generator, lp: np.ndarray, target: float, where: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli draws from log-odds ``lp`` calibrated to mean ``target`` over ``where``.

    Returns a boolean array over all rows; False outside ``where``.
    """
    n = lp.shape[0]
    u = rng.random(n)
    if where is None:
        where = np.ones(n, dtype=bool)
    b = _intercept(lp[where], target)
    return where & (u < _expit(lp + b))


def _ordinal(latent: np.ndarray, probs: list[float] | tuple[float, ...]) -> np.ndarray:
    """Categories 0..k-1 by cutting ``latent`` at its quantiles so the shares match ``probs``."""
    if latent.size == 0:
        return np.zeros(0, dtype=np.int8)
    p = np.asarray(probs, dtype=float)
    cuts = np.quantile(latent, np.cumsum(p)[:-1] / p.sum())
    return np.searchsorted(cuts, latent, side="right").astype(np.int8)


def _ordinal_where(
    latent: np.ndarray, probs: list[float] | tuple[float, ...], where: np.ndarray, fill: int
) -> np.ndarray:
    out = np.full(latent.shape[0], fill, dtype=np.int8)
    out[where] = _ordinal(latent[where], probs)
    return out


def _days(rng: np.random.Generator, n: int, lo: int, shape: float, scale: float, hi: int) -> np.ndarray:
    """Integer delays lo + Gamma(shape, scale), clipped to [lo, hi]."""
    return np.clip(lo + np.rint(rng.gamma(shape, scale, n)), lo, hi).astype(np.int32)


def _beta_days(rng: np.random.Generator, a: float, b: float, lo: np.ndarray, hi: np.ndarray | int) -> np.ndarray:
    """Integer day in [lo, hi] placed by a Beta(a, b) draw (a < b: skewed early)."""
    span = np.asarray(hi) - lo + 1
    return np.minimum(lo + np.floor(span * rng.beta(a, b, lo.shape[0])).astype(np.int32), hi)


# --------------------------------------------------------------------------
# Column formatting (pyarrow-backed strings, blank "" for missing)
# --------------------------------------------------------------------------


def _col(lookup: list[str], idx: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """String column taking ``lookup[idx]``; built by Arrow, so 1M rows take milliseconds."""
    dictionary = pa.array(lookup, type=pa.string())
    arr = pa.DictionaryArray.from_arrays(pa.array(np.asarray(idx, dtype=np.int32)), dictionary)
    return pd.array(arr.cast(pa.string()), dtype=_STR)


def _codes(labels: tuple[str, ...], idx: np.ndarray, present: np.ndarray | None = None):
    idx = np.asarray(idx, dtype=np.int32)
    if present is not None:
        idx = np.where(present, idx, len(labels))
    return _col([*labels, ""], idx)


def _ints(values: np.ndarray, lo: int, hi: int, present: np.ndarray | None = None):
    labels = tuple(str(i) for i in range(lo, hi + 1))
    return _codes(labels, np.asarray(values, dtype=np.int32) - lo, present)


def _bools(values: np.ndarray, present: np.ndarray | None = None):
    return _codes(("false", "true"), np.asarray(values, dtype=np.int32), present)


class _Dates:
    """Formats day numbers (days since 1970-01-01) between ``first`` and ``last``."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        days = np.arange(first, last + 1).astype("datetime64[D]")
        self.labels = tuple(np.datetime_as_string(days, unit="D").tolist())

    def __call__(self, day: np.ndarray, present: np.ndarray | None = None):
        ok = (day >= self.first) & (day <= self.last)
        if present is not None:
            ok &= present
        return _codes(self.labels, np.where(ok, day - self.first, 0), ok)


def _patient_ids(rng: np.random.Generator, n: int, prefix: str) -> pd.api.extensions.ExtensionArray:
    """Unique pseudonyms: prefix + 10 hex digits of a keyed bijection of the row number."""
    mask = np.uint64((1 << 40) - 1)
    key1, key2 = (np.uint64(k) for k in rng.integers(0, 1 << 40, 2))
    x = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x * np.uint64(0x9E3779B97F4A7C15 | 1) + key1) & mask  # odd multiplier: bijective mod 2^40
        x ^= x >> np.uint64(19)
        x = (x * np.uint64(0xBF58476D1CE4E5B9 | 1)) & mask
        x ^= key2 & mask
        x ^= x >> np.uint64(23)
    width = len(prefix) + 10
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    hexdigits = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    for i in range(10):
        chars[:, len(prefix) + i] = hexdigits[((x >> np.uint64(4 * (9 - i))) & np.uint64(15)).astype(np.intp)]
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))
    return pd.array(arr, dtype=_STR)


# --------------------------------------------------------------------------
# Shared structure: audit window, providers, diagnosis dates
# --------------------------------------------------------------------------


def _day(d: dt.date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def audit_window(extract_date: dt.date) -> tuple[dt.date, dt.date]:
    """The three audit years (1 April - 31 March) ending at or before ``extract_date``."""
    end_year = extract_date.year if (extract_date.month, extract_date.day) >= (3, 31) else extract_date.year - 1
    return dt.date(end_year - 3, 4, 1), dt.date(end_year, 3, 31)


def _diagnosis_days(rng: np.random.Generator, n: int, first: int, last: int) -> np.ndarray:
    ndays = last - first + 1
    to_end = np.arange(ndays)[::-1]
    # Registration lag: cases diagnosed in the last ~90 days of the period are
    # incompletely registered (down to 55% at the very end).
    weight = 1.0 - 0.45 * np.clip(1.0 - to_end / 90.0, 0.0, 1.0)
    return first + rng.choice(ndays, size=n, p=weight / weight.sum()).astype(np.int32)


def _predecessors(
    rng: np.random.Generator,
    provider: np.ndarray,
    dx: np.ndarray,
    codes: np.ndarray,
    successors: pd.DataFrame | None,
) -> tuple[np.ndarray, list[str]]:
    """Relabel ~1% of rows (successor trust, diagnosed before the merger) with the predecessor code.

    Returns provider indices into ``codes + extra`` and the extra codes.
    """
    if successors is None or len(successors) == 0 or provider.size == 0:
        return provider, []
    code_index = {c: i for i, c in enumerate(codes)}
    pairs = []
    for row in successors.itertuples(index=False):
        pred, succ = str(row.predecessor_code), str(row.successor_code)
        if succ in code_index and pred not in code_index:
            pairs.append((pred, code_index[succ], _day(pd.Timestamp(str(row.effective_from)).date())))
    if not pairs:
        return provider, []
    eligible = [(provider == si) & (dx < eff) for _, si, eff in pairs]
    total = int(sum(int(e.sum()) for e in eligible))
    # About 1% of all rows; when the successors are small, all their pre-merger rows.
    share = min(1.0, 0.01 * provider.size / total) if total else 0.0
    u = rng.random(provider.size)
    out = provider.copy()
    extra: list[str] = []
    for (pred, _, _), e in zip(pairs, eligible, strict=True):
        if pred not in extra:
            extra.append(pred)
        out[e & (u < share)] = len(codes) + extra.index(pred)
    return out, extra


@dataclass
class _Base:
    n: int
    prov: np.ndarray  # provider index (true provider, before predecessor relabelling)
    dx: np.ndarray  # diagnosis day number
    extract: int  # extract day number
    first: int  # window start day number


# --------------------------------------------------------------------------
# Bowel
# --------------------------------------------------------------------------

_ROUTES = ("emergency", "gp_referral", "screening", "two_week_wait", "other")


def _route(rng, n, screening, emergency, blank_share):
    """Route index into _ROUTES (5 = blank): the rest split 2WW / GP / other."""
    u = rng.random(n)
    route = np.where(u < 0.62, 3, np.where(u < 0.90, 1, 4)).astype(np.int8)
    route[emergency] = 0
    route[screening] = 2
    recorded = rng.random(n) >= blank_share
    return route, recorded


def _bowel(rng: np.random.Generator, base: _Base, pe: dict[str, np.ndarray]) -> dict[str, object]:
    n, prov, dx, extract = base.n, base.prov, base.dx, base.extract
    age = np.clip(np.rint(rng.normal(70.0, 11.0, n)), 18, 100).astype(np.int32)
    a = (age - 70) / 10.0  # decades from 70
    male = rng.random(n) < 0.56
    dep_latent = rng.standard_normal(n) + pe["dep"][prov]
    imd = 1 + _ordinal(-dep_latent, (0.19, 0.20, 0.21, 0.20, 0.20))  # 1 = most deprived
    dep = (3 - imd) / 2.0  # +1 most deprived .. -1 least
    charlson = _ordinal(0.35 * a + 0.15 * dep + rng.standard_normal(n), (0.58, 0.24, 0.11, 0.07))

    # Route: screening (bowel screening ages), emergency (older, deprived, comorbid).
    eligible = (age >= 55) & (age <= 74)
    screening = _draw(rng, -0.35 * dep + pe["screening"][prov], 0.185, eligible)
    em_lp = 0.25 * a + 0.08 * a * a + 0.3 * dep + 0.2 * charlson + pe["emergency"][prov]
    emergency = _draw(rng, em_lp, 0.20 / max(1e-9, 1.0 - screening.mean()) if n else 0.2, ~screening)
    route, route_recorded = _route(rng, n, screening, emergency, 0.01)

    # Stage 1-4 (0-3) or U (4); deprivation and emergency later, screening earlier.
    stage_u = _draw(rng, 0.3 * a + 0.5 * emergency + 0.2 * charlson, 0.08)
    st_latent = rng.standard_normal(n) + 0.6 * emergency - 0.9 * screening + 0.12 * dep
    stage = _ordinal_where(st_latent, (0.15, 0.25, 0.30, 0.22), ~stage_u, 4)
    stage4 = stage == 3

    ps_latent = 0.45 * a + 0.35 * charlson + 0.5 * emergency + 0.35 * stage4 + rng.standard_normal(n)
    ps = _ordinal(ps_latent, (0.40, 0.30, 0.15, 0.10, 0.05))
    ps_recorded = ~_draw(rng, pe["ps_blank"][prov], 0.08)
    rectum = _draw(rng, 0.25 * male - 0.1 * a, 0.30)
    site_recorded = rng.random(n) >= 0.005

    mdt = _draw(rng, pe["mdt"][prov] - 0.4 * emergency - 0.5 * (ps >= 3), 0.90)
    mdt_recorded = ~_draw(rng, pe["mdt_blank"][prov], 0.03)
    imd_recorded = rng.random(n) >= 0.01
    charlson_recorded = ~_draw(rng, pe["charlson_blank"][prov], 0.02)

    # Major resection: stage, age, performance status, comorbidity.
    stage_res = np.array([0.9, 1.3, 1.2, -1.6, -1.2])[stage]
    ps_res = np.array([0.0, -0.4, -1.2, -2.2, -3.0])[ps]
    res_lp = stage_res + ps_res - 0.45 * a - 0.3 * np.maximum(a, 0) ** 2 - 0.25 * charlson
    resected = _draw(rng, res_lp + 0.3 * emergency + pe["resection"][prov], 0.555)
    urgent = resected & emergency & (rng.random(n) < 0.7)  # emergency resection
    delay = np.where(
        rectum,
        _days(rng, n, 7, 2.5, 25.0, 120),  # neoadjuvant treatment first
        _days(rng, n, 7, 2.0, 15.0, 120),
    )
    surg_off = np.where(urgent, rng.integers(0, 8, n), delay).astype(np.int32)
    resected &= dx + surg_off <= extract  # not yet operated at the extract date
    urgent &= resected
    surgery = dx + surg_off

    asa_latent = 0.4 * a + 0.45 * charlson + 0.35 * ps + 0.4 * urgent + rng.standard_normal(n)
    asa = 1 + _ordinal_where(asa_latent, (0.10, 0.50, 0.32, 0.07, 0.01), resected, 0)

    # 90-day post-operative mortality (NBOCA risk factors) among resected.
    m90_lp = (
        0.55 * a
        + np.array([0.0, -0.8, 0.0, 0.7, 1.5, 2.5])[asa]
        + np.array([0.0, 0.25, 0.7, 1.2, 1.6])[ps]
        + 1.1 * urgent
        + 0.8 * stage4
        + 0.25 * charlson
        + 0.15 * male
        + pe["mortality_90d"][prov]
    )
    died90 = _draw(rng, m90_lp, 0.03, resected)

    readmit_lp = (
        0.1 * a
        + 0.15 * charlson
        + 0.35 * urgent
        + 0.25 * (asa >= 3)
        + 0.25 * rectum
        + 0.1 * dep
        + pe["readmission"][prov]
    )
    readmitted = _draw(rng, readmit_lp, 0.10, resected)

    # 2-year mortality after diagnosis (including the post-operative deaths).
    m2_lp = (
        np.array([-1.8, -1.0, -0.3, 1.6, 0.9])[stage]
        + np.array([-0.5, 0.0, 0.6, 1.2, 1.7])[ps]
        + 0.45 * a
        + 0.15 * charlson
        + 0.5 * emergency
        + 0.1 * dep
        - 0.6 * resected
        + pe["mortality_2y"][prov]
    )
    rest = ~died90
    target = (0.30 * n - died90.sum()) / max(1, rest.sum())
    died2y = died90 | _draw(rng, m2_lp, float(np.clip(target, 0.01, 0.99)), rest)

    # Days from diagnosis to death.
    zero = np.zeros(n, dtype=np.int32)
    t_post = _beta_days(rng, 0.7, 1.6, surg_off, surg_off + 90)  # within 90 days of surgery
    lo = np.where(resected, surg_off + 91, 0).astype(np.int32)
    t_2y = np.where(
        resected,
        _beta_days(rng, 1.1, 1.4, lo, 730),
        _beta_days(rng, 0.75, 1.8, zero, 730),
    )
    later_scale = np.array([4500.0, 3500.0, 2500.0, 900.0, 1600.0])[stage] * np.exp(-0.5 * a)
    t_late = 731 + np.rint(rng.exponential(1.0, n) * later_scale).astype(np.int64)
    t_death = np.where(died90, t_post, np.where(died2y, t_2y, t_late)).astype(np.int64)
    death = dx + t_death
    dead = death <= extract
    readmitted &= ~(died90 & (t_death - surg_off <= 1))  # no readmission after death on day 0-1

    dates = _Dates(base.first, extract)
    return {
        "age": _ints(age, 0, 120),
        "sex": _codes(("F", "M"), male),
        "cancer_site": _codes(("colon", "rectum"), rectum, site_recorded),
        "stage": _codes(("1", "2", "3", "4", "U"), stage),
        "performance_status": _ints(ps, 0, 4, ps_recorded),
        "charlson": _ints(charlson, 0, 3, charlson_recorded),
        "asa_grade": _ints(np.maximum(asa, 1), 1, 5, resected),
        "imd_quintile": _ints(imd, 1, 5, imd_recorded),
        "route_to_diagnosis": _codes(_ROUTES, route, route_recorded),
        "mdt_discussed": _bools(mdt, mdt_recorded),
        "major_resection": _bools(resected),
        "surgery_date": dates(surgery, resected),
        "death_date": dates(death, dead),
        "readmitted_30d": _bools(readmitted, resected),
    }


# --------------------------------------------------------------------------
# Lung
# --------------------------------------------------------------------------


def _lung(rng: np.random.Generator, base: _Base, pe: dict[str, np.ndarray]) -> dict[str, object]:
    n, prov, dx, extract = base.n, base.prov, base.dx, base.extract
    age = np.clip(np.rint(rng.normal(72.0, 11.0, n)), 18, 100).astype(np.int32)
    a = (age - 72) / 10.0
    male = rng.random(n) < 0.52
    dep_latent = rng.standard_normal(n) + pe["dep"][prov]
    imd = 1 + _ordinal(-dep_latent, (0.25, 0.22, 0.20, 0.18, 0.15))
    dep = (3 - imd) / 2.0
    charlson = _ordinal(0.3 * a + 0.2 * dep + rng.standard_normal(n), (0.45, 0.27, 0.15, 0.13))

    # Targeted lung health checks (ages 55-74, deprived areas, some trusts only).
    eligible = (age >= 55) & (age <= 74)
    tlhc_lp = 0.3 * dep + 3.0 * pe["tlhc"][prov]
    screening = _draw(rng, tlhc_lp, 0.05, eligible)
    em_lp = 0.2 * a + 0.3 * dep + 0.2 * charlson + pe["emergency"][prov]
    emergency = _draw(rng, em_lp, 0.33 / max(1e-9, 1.0 - screening.mean()) if n else 0.33, ~screening)
    route, route_recorded = _route(rng, n, screening, emergency, 0.01)

    # Stage: 1, 2, 3A, 3B, 3C, 4 (0-5) or U (6).
    stage_u = _draw(rng, 0.4 * a + 0.6 * emergency, 0.06)
    st_latent = rng.standard_normal(n) + 0.7 * emergency - 1.2 * screening + 0.1 * dep
    stage = _ordinal_where(st_latent, (0.20, 0.10, 0.10, 0.06, 0.03, 0.45), ~stage_u, 6)
    early = stage <= 1
    s3a = stage == 2
    advanced = (stage >= 3) & (stage <= 5)  # 3B-4

    ps_latent = 0.4 * a + 0.3 * charlson + 0.6 * emergency + 0.3 * (stage == 5) + rng.standard_normal(n)
    ps = _ordinal(ps_latent, (0.20, 0.30, 0.22, 0.18, 0.10))
    ps_recorded = ~_draw(rng, pe["ps_blank"][prov], 0.08)
    good = ps <= 1
    fit = ps <= 2

    # Histology: 0 nsclc, 1 sclc, 2 other, 3 unknown.
    sclc = _draw(rng, 0.8 * (stage >= 3) + 0.2 * male, 0.12)
    unknown = _draw(rng, 0.5 * a + 0.5 * (ps >= 3), 0.015, ~sclc)
    other = _draw(rng, np.zeros(n), 0.015, ~sclc & ~unknown)
    histology = np.where(sclc, 1, np.where(unknown, 3, np.where(other, 2, 0))).astype(np.int8)
    nsclc_like = ~sclc  # nsclc, other, unknown are treated like NSCLC

    path_lp = (
        0.8 * early
        + 0.6 * good
        - 1.0 * (ps >= 3)
        - 0.4 * a
        - 0.3 * emergency
        - 2.5 * unknown
        + 0.5 * sclc
        + pe["pathology"][prov]
    )
    pathology = _draw(rng, path_lp, 0.70)
    cns = _draw(rng, pe["cns"][prov] - 0.2 * (ps >= 3), 0.80)
    cns_recorded = ~_draw(rng, pe["cns_blank"][prov], 0.02)
    mdt = _draw(rng, pe["mdt"][prov] - 0.3 * emergency - 0.4 * (ps >= 3), 0.90)
    mdt_recorded = ~_draw(rng, pe["mdt_blank"][prov], 0.02)
    imd_recorded = rng.random(n) >= 0.01
    charlson_recorded = rng.random(n) >= 0.02

    # Treatment intent: 0 curative, 1 palliative, 2 none.
    cur_lp = -0.5 * a - 0.3 * charlson + pe["curative"][prov]
    cur_target = np.select(
        [nsclc_like & early & fit, nsclc_like & s3a & good, sclc & (stage <= 2) & fit, early],
        [0.75, 0.45, 0.35, 0.15],
        0.01,
    )
    curative = np.zeros(n, dtype=bool)
    u = rng.random(n)
    for level in np.unique(cur_target):  # a handful of clinical groups, not rows
        grp = cur_target == level
        b = _intercept(cur_lp[grp], float(level))
        curative[grp] = u[grp] < _expit(cur_lp[grp] + b)
    pal_p = np.select(
        [sclc & fit, sclc, early | s3a, good, ps == 2],
        [0.85, 0.35, 0.25, 0.78, 0.50],
        0.15,
    )
    palliative = ~curative & (rng.random(n) < pal_p)
    intent = np.where(curative, 0, np.where(palliative, 1, 2)).astype(np.int8)

    # Treatments.
    surg_p = np.select(
        [nsclc_like & early, nsclc_like & s3a, unknown],
        [0.68, 0.30, 0.30],
        0.08,
    )
    surg_lp = np.log(surg_p / (1 - surg_p)) - 0.3 * a + pe["surgery"][prov]
    surgery = curative & (rng.random(n) < _expit(surg_lp))
    radical_rt = curative & np.where(surgery, rng.random(n) < 0.05, rng.random(n) < 0.95)
    sact_p = np.select(
        [
            curative & sclc,
            curative & (stage >= 2),
            curative & surgery,
            curative,
            palliative & sclc,
            palliative & advanced & good,
            palliative,
        ],
        [0.95, 0.60, 0.20, 0.05, 0.95, 0.80, 0.55],
        0.0,
    )
    sact_lp = np.log(np.clip(sact_p, 1e-6, 1 - 1e-6) / np.clip(1 - sact_p, 1e-6, 1)) + pe["sact"][prov]
    sact = (curative | palliative) & (rng.random(n) < _expit(sact_lp))
    radical_rt |= curative & ~surgery & ~sact  # a curative plan has a curative treatment

    treated = curative | palliative
    t_treat = np.where(
        surgery,
        _days(rng, n, 21, 3.0, 12.0, 90),
        np.where(sclc | emergency, _days(rng, n, 10, 1.6, 10.0, 90), _days(rng, n, 10, 2.2, 18.0, 90)),
    )
    treat_day = dx + t_treat
    pending = treated & (treat_day > extract)  # planned treatment not yet given: intent not recorded
    treated &= ~pending
    intent_recorded = ~pending & ~((intent == 2) & (rng.random(n) < 0.04))
    for arr in (surgery, radical_rt, sact):
        arr &= treated

    # 1-year mortality after diagnosis.
    m1_lp = (
        np.array([-2.2, -1.3, -0.6, -0.1, 0.3, 1.2, 1.0])[stage]
        + np.array([-1.0, -0.4, 0.3, 1.0, 1.6])[ps]
        + 0.3 * a
        + 0.15 * charlson
        + 0.15 * male
        + 0.7 * emergency
        + 0.05 * dep
        + 0.3 * sclc
        - 1.5 * surgery
        - 0.8 * (radical_rt & ~surgery)
        - 0.6 * (palliative & sact)
        + 0.5 * ~treated
        + pe["mortality_1y"][prov]
    )
    died1y = _draw(rng, m1_lp, 0.55)
    t_1y = _beta_days(rng, 0.8, 1.5, np.zeros(n, dtype=np.int32), 365)
    # A treated patient lives to the first treatment.
    t_after = t_treat + np.floor((366 - t_treat) * rng.random(n)).astype(np.int32)
    t_1y = np.where(treated & (t_1y < t_treat), t_after, t_1y)
    later_scale = np.array([3000.0, 2200.0, 1200.0, 900.0, 800.0, 500.0, 700.0])[stage] * np.exp(-0.4 * a)
    t_late = 366 + np.rint(rng.exponential(1.0, n) * later_scale).astype(np.int64)
    death = dx + np.where(died1y, t_1y, t_late).astype(np.int64)
    dead = death <= extract

    dates = _Dates(base.first, extract)
    return {
        "age": _ints(age, 0, 120),
        "sex": _codes(("F", "M"), male),
        "imd_quintile": _ints(imd, 1, 5, imd_recorded),
        "histology": _codes(("nsclc", "sclc", "other", "unknown"), histology),
        "stage": _codes(("1", "2", "3A", "3B", "3C", "4", "U"), stage),
        "performance_status": _ints(ps, 0, 4, ps_recorded),
        "charlson": _ints(charlson, 0, 3, charlson_recorded),
        "route_to_diagnosis": _codes(_ROUTES, route, route_recorded),
        "pathological_confirmation": _bools(pathology),
        "cns_seen": _bools(cns, cns_recorded),
        "mdt_discussed": _bools(mdt, mdt_recorded),
        "treatment_intent": _codes(("curative", "palliative", "none"), np.where(pending, 2, intent), intent_recorded),
        "surgery": _bools(surgery),
        "radical_radiotherapy": _bools(radical_rt),
        "sact": _bools(sact),
        "first_treatment_date": dates(treat_day, treated),
        "death_date": dates(death, dead),
    }


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def generate_extract(
    audit: str,
    rows: int,
    seed: int,
    extract_date: dt.date,
    trusts: pd.DataFrame,
    successors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A synthetic patient-level extract in the format of ``audits/definitions/<audit>.yaml``.

    Columns are exactly the definition's, in order, as strings ready for CSV:
    dates YYYY-MM-DD, booleans "true"/"false", "" for missing. Diagnoses
    fall in the three audit years (April-March) ending at or before
    ``extract_date``, thinner in the last 90 days (registration lag). Events
    after ``extract_date`` are not recorded (deaths blank, resections or
    treatments not yet given). With ``successors`` (columns predecessor_code,
    successor_code, effective_from), about 1% of rows of a successor trust
    diagnosed before the merger carry the predecessor code, as real multi-year
    extracts do. Deterministic for the same (audit, rows, seed, extract_date,
    trusts, successors).
    """
    _check(audit, seed)
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if isinstance(extract_date, dt.datetime):
        extract_date = extract_date.date()
    providers = _providers(audit, seed, trusts)
    rng = _rng(seed, audit, 1)
    start, end = audit_window(extract_date)
    first, last, extract = _day(start), _day(end), _day(extract_date)

    prov = rng.choice(len(providers.codes), size=rows, p=providers.weights).astype(np.int32)
    dx = _diagnosis_days(rng, rows, first, last)
    patient_id = _patient_ids(rng, rows, "B" if audit == "bowel" else "L")
    recorded_prov, extra = _predecessors(rng, prov, dx, providers.codes, successors)
    base = _Base(n=rows, prov=prov, dx=dx, extract=extract, first=first)
    model = _bowel if audit == "bowel" else _lung
    columns = model(rng, base, providers.effects)
    columns["patient_id"] = patient_id
    columns["provider_code"] = _col([*providers.codes.tolist(), *extra], recorded_prov)
    columns["diagnosis_date"] = _Dates(first, extract)(dx)
    return pd.DataFrame({name: columns[name] for name in COLUMNS[audit]})


def write_extract(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` as CSV: header, UTF-8, LF line endings, quotes only where needed.

    Uses Arrow's CSV writer (a million rows in well under a second); values
    that need quoting (commas, quotes, newlines) fall back to pandas.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none", eol="\n")
    try:
        pa_csv.write_csv(table, os.fspath(path), write_options=options)
    except pa.ArrowInvalid:
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
