"""Synthetic demo extracts for any audit, drawn from its definition file (docs/adding-an-audit.md).

Pure module: numpy, pandas and pyarrow only; no Django, no I/O except :func:`write_extract`. Everything is
vectorised over patients, so a million bowel rows take a few seconds.

The data are a small structural model read from the definition:

* Trusts are the plausible acute trusts of the seed list. Their size is a property of the trust, drawn once
  for every audit (log-normal, skewed: a long tail of small trusts, large ones up to ~5 times the median), so a
  big trust is big in every audit; each audit adds a little noise of its own, and its ``demo: trusts`` scale
  (e.g. a specialist hospital at a fraction of a median trust, 0 for none).
* Columns are drawn in an order where each comes after the columns it reads: booleans from calibrated logistic
  models (``rate`` is the national rate, ``effects`` shift the log-odds), ordered codes and integers by cutting
  a latent scale at the shares' quantiles (effects shift the latent), unordered codes from a multinomial logit
  calibrated to the shares, numbers from a normal, dates as a delay after a start, or as ``events`` (e.g. death
  within 90 days of surgery at 3%). A ``trust_sd`` gives each trust its own shift; ``planted`` makes a few trusts
  of at least median size truly worse or better (their odds multiplied by the odds ratio).
* The file's rules hold for every row: a column is blank outside its ``applies_when`` and ``blank_unless``
  conditions and present where ``required_when`` holds, a date is never before its ``not_before`` reference, and
  an event after the extract date has not happened yet (a death is blank; a required date's condition is undone,
  e.g. a resection not yet done). Blanks otherwise are a recording artefact: the true value still drives what
  follows, as in real audit data.

Random streams come from ``numpy.random.SeedSequence``: trust sizes from (seed) alone, an audit's trust effects
and planted trusts from (seed, audit), each column from (seed, audit, column), so adding a column changes no other.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import zlib
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from audits.demo.spec import DEFAULT_BLANK, ColumnModel, DemoSpec, Effect, generation_order

if TYPE_CHECKING:
    from audits.schema import AuditDefinition, Column

__all__ = [
    "audit_window",
    "generate_extract",
    "planted_better",
    "planted_outliers",
    "provider_pool",
    "trust_weights",
    "write_extract",
]

# Trusts that do not diagnose or treat adult cancers as first presentations. The name patterns catch community,
# mental-health, ambulance and social-care trusts, children's and single-specialty hospitals; the codes are
# mental-health and community trusts whose names give no hint.
_EXCLUDE_NAME = re.compile(
    r"community|mental|partnership|ambulance|health and care|social care"
    r"|great ormond street|children|orthopaedic|eye hospital|women['\u2019]s"
    r"|walton centre|queen victoria hospital",
    re.IGNORECASE,
)
_NON_ACUTE_CODES = frozenset({"RAT", "RDY", "RNU", "RT1", "RT2", "RV9", "RW1", "RW4", "RWX"})
# Specialist hospitals see few first presentations: unless an audit's ``demo: trusts`` says otherwise, each has
# this fraction of a median trust's volume.
_SPECIALIST = re.compile(r"heart and chest|papworth|clatterbridge|christie|royal marsden", re.IGNORECASE)
SPECIALIST_SCALE = 0.15
_VOLUME_SIGMA_LOW, _VOLUME_SIGMA_HIGH = 0.9, 0.6
_AUDIT_VOLUME_SD = 0.15  # an audit's own noise around the trust's size (log scale)
_DEFAULT_DATE_BLANK = 0.3  # a date column with no model and no rule: often not known (e.g. alive: no death date)
_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def _key(code: str) -> int:
    return 1 + zlib.crc32(code.encode())


def _rng(seed: int, code: str, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _key(code), *stream]))


def _check_seed(seed: int) -> None:
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _spec(definition: AuditDefinition) -> DemoSpec:
    return definition.demo or DemoSpec()


# --------------------------------------------------------------------------
# Trusts
# --------------------------------------------------------------------------


def provider_pool(trusts: pd.DataFrame) -> pd.DataFrame:
    """Trusts plausibly reporting first presentations of cancer: columns trust_code, trust_name, specialist,
    sorted by trust_code so that results do not depend on the input order."""
    frame = trusts[["trust_code", "trust_name"]].astype(str).copy()
    frame = frame[frame["trust_code"].str.len() > 0].drop_duplicates("trust_code")
    keep = ~frame["trust_name"].str.contains(_EXCLUDE_NAME, regex=True)
    keep &= ~frame["trust_code"].isin(_NON_ACUTE_CODES)
    frame = frame[keep].sort_values("trust_code", kind="stable").reset_index(drop=True)
    frame["specialist"] = frame["trust_name"].str.contains(_SPECIALIST, regex=True)
    return frame


def _shared_log_sizes(seed: int, k: int) -> np.ndarray:
    """Log sizes at exact quantiles of a split normal, randomly assigned: the shape is the same for every seed
    (the smallest trusts always have tens of patients a year), only who is big changes. Shared by every audit."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    nd = NormalDist()
    z = np.array([nd.inv_cdf((i + 0.5) / k) for i in range(k)])[rng.permutation(k)]
    return np.where(z < 0, _VOLUME_SIGMA_LOW * z, _VOLUME_SIGMA_HIGH * z)


def trust_weights(definition: AuditDefinition, seed: int, trusts: pd.DataFrame) -> pd.Series:
    """Each trust's share of the audit's patients (trust code -> share, summing to 1; trusts not in the audit
    left out)."""
    _check_seed(seed)
    pool = provider_pool(trusts)
    if pool.empty:
        raise ValueError("no plausible acute provider in trusts")
    codes = pool["trust_code"].to_numpy(dtype=object)
    log_w = _shared_log_sizes(seed, len(pool))
    rng = _rng(seed, definition.code, 0)
    log_w = log_w + rng.normal(0.0, _AUDIT_VOLUME_SD, len(pool))
    median = float(np.median(np.exp(log_w)))
    weights = np.exp(log_w)
    scale = dict(_spec(definition).trusts)
    special = pool["specialist"].to_numpy()
    weights = np.where(special, SPECIALIST_SCALE * median, weights)
    for i, code in enumerate(codes):
        if code in scale:
            weights[i] = scale[code] * median
    series = pd.Series(weights, index=codes)
    series = series[series > 0]
    return series / series.sum()


@dataclass(frozen=True)
class _Trusts:
    codes: np.ndarray
    weights: np.ndarray
    effects: dict[tuple[str, str], np.ndarray]  # (column, part) -> a shift per trust
    planted: dict[str, tuple[list[str], list[str]]]  # indicator -> (worse, better) trust codes


def _trusts(definition: AuditDefinition, seed: int, trusts: pd.DataFrame) -> _Trusts:
    weights = trust_weights(definition, seed, trusts)
    codes = weights.index.to_numpy(dtype=object)
    k = len(codes)
    spec = _spec(definition)
    rng = _rng(seed, definition.code, 1)
    effects: dict[tuple[str, str], np.ndarray] = {}
    for model in spec.columns:  # drawn in a fixed order: the models' order in the file
        effects[(model.column, "value")] = rng.normal(0.0, 1.0, (k, 8)) * model.trust_sd
        effects[(model.column, "blank")] = rng.normal(0.0, 1.0, k) * model.blank_trust_sd
        for i, event in enumerate(model.events):
            effects[(model.column, f"event{i}")] = rng.normal(0.0, 1.0, k) * event.trust_sd
    planted: dict[str, tuple[list[str], list[str]]] = {}
    chosen: set[int] = set()
    w = weights.to_numpy()
    for model in spec.columns:
        parts = [("value", model.planted)] + [(f"event{i}", e.planted) for i, e in enumerate(model.events)]
        for part, plant in parts:
            if plant is None:
                continue
            candidates = np.array([i for i in np.flatnonzero(w >= np.median(w)) if i not in chosen])
            picked = rng.choice(candidates, size=min(len(candidates), plant.worse + plant.better), replace=False)
            worse, better = picked[: plant.worse], picked[plant.worse :]
            chosen |= set(picked.tolist())
            shift = effects[(model.column, part)]
            shift = shift.copy()
            # The planted trusts get exactly the planted odds ratio (no random effect on top).
            shift[worse] = math.log(plant.worse_odds_ratio)
            shift[better] = math.log(plant.better_odds_ratio)
            effects[(model.column, part)] = shift
            planted[plant.indicator] = (sorted(codes[worse].tolist()), sorted(codes[better].tolist()))
    return _Trusts(codes=codes, weights=w, effects=effects, planted=planted)


def planted_outliers(definition: AuditDefinition, seed: int, trusts: pd.DataFrame) -> dict[str, list[str]]:
    """Indicator code -> trust codes planted as truly worse (the ``planted`` entries of the ``demo:`` section).
    All have at least median volume. Depends only on (audit, seed, trusts), not on the rows or the extract date."""
    return {code: worse for code, (worse, _) in _trusts(definition, seed, trusts).planted.items()}


def planted_better(definition: AuditDefinition, seed: int, trusts: pd.DataFrame) -> dict[str, list[str]]:
    """Indicator code -> trust codes planted as truly better."""
    return {code: better for code, (_, better) in _trusts(definition, seed, trusts).planted.items()}


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


def _draw(rng: np.random.Generator, lp: np.ndarray, target: float, where: np.ndarray) -> np.ndarray:
    """Bernoulli draws from log-odds ``lp`` calibrated to mean ``target`` over ``where``; False outside it."""
    u = rng.random(lp.shape[0])
    b = _intercept(lp[where], target)
    return where & (u < _expit(lp + b))


def _ordinal(latent: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Categories 0..k-1 by cutting ``latent`` at its quantiles so the shares match ``probs``."""
    if latent.size == 0:
        return np.zeros(0, dtype=np.int32)
    cuts = np.quantile(latent, np.cumsum(probs)[:-1] / probs.sum())
    return np.searchsorted(cuts, latent, side="right").astype(np.int32)


def _beta_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A whole day in [lo, hi], skewed early (Beta(0.8, 1.5))."""
    span = hi - lo + 1
    return np.minimum(lo + np.floor(span * rng.beta(0.8, 1.5, lo.shape[0])).astype(np.int64), hi)


def _col(lookup: list[str], idx: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """String column taking ``lookup[idx]``; built by Arrow, so 1M rows take milliseconds."""
    dictionary = pa.array(lookup, type=pa.string())
    arr = pa.DictionaryArray.from_arrays(pa.array(np.asarray(idx, dtype=np.int32)), dictionary)
    return pd.array(arr.cast(pa.string()), dtype=_STR)


def _labels(labels: list[str], idx: np.ndarray, present: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return _col([*labels, ""], np.where(present, idx, len(labels)))


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


def _day(d: dt.date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def audit_window(extract_date: dt.date) -> tuple[dt.date, dt.date]:
    """The three audit years (1 April - 31 March) ending at or before ``extract_date``."""
    end_year = extract_date.year if (extract_date.month, extract_date.day) >= (3, 31) else extract_date.year - 1
    return dt.date(end_year - 3, 4, 1), dt.date(end_year, 3, 31)


def _diagnosis_days(rng: np.random.Generator, n: int, first: int, last: int) -> np.ndarray:
    ndays = last - first + 1
    to_end = np.arange(ndays)[::-1]
    # Registration lag: cases diagnosed in the last ~90 days of the period are incompletely registered (down to
    # 55% at the very end).
    weight = 1.0 - 0.45 * np.clip(1.0 - to_end / 90.0, 0.0, 1.0)
    return first + rng.choice(ndays, size=n, p=weight / weight.sum()).astype(np.int64)


def _predecessors(
    rng: np.random.Generator, provider: np.ndarray, dx: np.ndarray, codes: np.ndarray, successors: pd.DataFrame | None
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


# --------------------------------------------------------------------------
# Drawing the columns
# --------------------------------------------------------------------------


@dataclass
class _Draw:
    """One column as drawn: its values (code index, bool, int, float or day number) and its blanks."""

    values: np.ndarray
    artefact: np.ndarray  # blank by a recording artefact
    outside: np.ndarray | None = None  # rows outside the model's ``when`` (their value is the fallback)


@dataclass
class _Rows:
    definition: AuditDefinition
    spec: DemoSpec
    seed: int
    n: int
    prov: np.ndarray
    extract: int
    trusts: _Trusts
    drawn: dict[str, _Draw] = field(default_factory=dict)
    value: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)
    undone: dict[str, np.ndarray] = field(default_factory=dict)  # rows whose value was undone (event not yet)

    def column(self, name: str) -> Column:
        return self.definition.column(name)

    def rng(self, name: str) -> np.random.Generator:
        return _rng(self.seed, self.definition.code, 2, self.definition.column_names.index(name))

    def trust_effect(self, name: str, part: str = "value", index: int = 0) -> np.ndarray:
        shift = self.trusts.effects.get((name, part))
        if shift is None:
            return np.zeros(self.n)
        return (shift[:, index] if shift.ndim == 2 else shift)[self.prov]

    def condition(self, when: tuple[tuple[str, tuple[Any, ...]], ...]) -> np.ndarray:
        mask = np.ones(self.n, dtype=bool)
        for name, wanted in when:
            mask &= self.present[name] & self.matches(name, wanted)
        return mask

    def matches(self, name: str, wanted: tuple[Any, ...]) -> np.ndarray:
        column, values = self.column(name), self.value[name]
        if column.type == "code":
            return np.isin(values, [column.codes.index(str(w)) for w in wanted])
        return np.isin(values, np.array(wanted, dtype=values.dtype))

    def effects(self, effects: tuple[Effect, ...]) -> np.ndarray:
        total = np.zeros(self.n)
        for effect in effects:
            column, values = self.column(effect.column), self.value[effect.column]
            shifts = dict(effect.by_value)
            if column.type == "code":
                table = np.array([shifts.get(code, 0.0) for code in column.codes])
                total += table[values]
            elif column.type == "boolean" and effect.by_value:
                total += np.where(values, shifts.get("true", 0.0), shifts.get("false", 0.0))
            elif effect.by_value and self.n:
                low = int(values.min())
                table = np.array([shifts.get(str(low + i), 0.0) for i in range(int(values.max()) - low + 1)])
                total += table[values - low]
            elif self.n:
                numbers = values.astype(float)
                total += effect.per_unit * (numbers - numbers.mean())
        return total


def _scope(rows: _Rows, name: str) -> np.ndarray:
    """Where the file lets the column have a value: its applies_when and blank_unless conditions."""
    column = rows.column(name)
    mask = rows.condition(column.applies_when) if column.applies_when else np.ones(rows.n, dtype=bool)
    for rule in rows.definition.rules:
        if rule.column == name and rule.type == "blank_unless":
            mask &= rows.condition(rule.when)
    return mask


def _needed(rows: _Rows, name: str) -> np.ndarray:
    """Where the file requires a value: a required column, or a required_when condition."""
    column = rows.column(name)
    mask = np.full(rows.n, column.required)
    for rule in rows.definition.rules:
        if rule.column == name and rule.type == "required_when":
            mask |= rows.condition(rule.when)
    return mask


def _settle(rows: _Rows, name: str) -> None:
    """The column's values and blanks from its draw, the current values of the columns it reads and the rules."""
    column, drawn = rows.column(name), rows.drawn[name]
    model = rows.spec.model(name)
    values = drawn.values
    present = ~drawn.artefact
    if model is not None and model.when:
        outside = ~rows.condition(model.when)
        if column.type == "boolean":
            values = values & ~outside
        elif column.type == "code" and model.otherwise is not None:
            values = np.where(outside, column.codes.index(model.otherwise), values)
        else:
            present = present & ~outside
    undone = rows.undone.get(name)
    if undone is not None:
        if column.type == "boolean":
            values = values & ~undone
        elif column.type == "code" and column.required:
            values = np.where(undone, _fallback_code(rows, name), values)
        else:
            present = present & ~undone
    present = (present & _scope(rows, name)) | _needed(rows, name)
    rows.value[name] = values
    rows.present[name] = present


def _fallback_code(rows: _Rows, name: str) -> int:
    """The code a required code column takes when what it said has not happened yet: the first code no
    required_when condition on this column names."""
    named: set[str] = set()
    for rule in rows.definition.rules:
        for other, wanted in rule.when:
            if other == name and rule.type == "required_when":
                named |= {str(w) for w in wanted}
    codes = rows.column(name).codes
    return next((i for i, code in enumerate(codes) if code not in named), len(codes) - 1)


def _blanks(rows: _Rows, name: str, model: ColumnModel | None, rng: np.random.Generator) -> np.ndarray:
    column = rows.column(name)
    if column.required:
        return np.zeros(rows.n, dtype=bool)
    share = model.blank if model is not None and model.blank is not None else None
    if share is None:
        share = _DEFAULT_DATE_BLANK if column.type == "date" and model is None else DEFAULT_BLANK
    if share <= 0 or rows.n == 0:
        return np.zeros(rows.n, dtype=bool)
    return _draw(rng, rows.trust_effect(name, "blank"), share, np.ones(rows.n, dtype=bool))


def _draw_boolean(rows: _Rows, model: ColumnModel, rng: np.random.Generator) -> np.ndarray:
    where = rows.condition(model.when) if model.when else np.ones(rows.n, dtype=bool)
    lp = rows.effects(model.effects) + rows.trust_effect(model.column)
    rate = model.rate if model.rate is not None else 0.5
    return _draw(rng, lp, rate, where) if rows.n else np.zeros(0, dtype=bool)


def _shares(model: ColumnModel, values: list[str], unknown: tuple[str, ...] = ()) -> np.ndarray:
    if model.shares:
        given = dict(model.shares)
        return np.array([given.get(v, 0.0) for v in values])
    known = [v not in unknown for v in values]
    share = np.where(known, 0.95 / max(1, sum(known)), 0.05 / max(1, len(values) - sum(known)))
    return share if any(known) else np.full(len(values), 1.0 / len(values))


def _ordered(rows: _Rows, model: ColumnModel, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    latent = rng.standard_normal(rows.n) + rows.effects(model.effects) + rows.trust_effect(model.column)
    return _ordinal(latent, probs / probs.sum())


def _draw_code(rows: _Rows, model: ColumnModel, rng: np.random.Generator) -> np.ndarray:
    column = rows.column(model.column)
    codes = list(column.codes)
    shares = _shares(model, codes, column.unknown_codes)
    if model.ordered:
        order = [code for code, _ in model.shares if code not in column.unknown_codes]
        unknown = [code for code in codes if code in column.unknown_codes and shares[codes.index(code)] > 0]
        probs = np.array([shares[codes.index(c)] for c in order])
        u_probs = np.array([shares[codes.index(c)] for c in unknown])
        total = probs.sum() + u_probs.sum()
        values = np.array([codes.index(c) for c in order])[_ordered(rows, model, probs, rng)]
        if unknown:
            pick = rng.random(rows.n) * total
            is_unknown = pick < u_probs.sum()
            which = np.searchsorted(np.cumsum(u_probs), pick, side="right").clip(0, len(unknown) - 1)
            values = np.where(is_unknown, np.array([codes.index(c) for c in unknown])[which], values)
        return values.astype(np.int32)
    # A multinomial logit: each code's odds shifted by its effects and the trust, calibrated to the shares.
    target = shares / shares.sum()
    shift = np.zeros((rows.n, len(codes)))
    given = dict(model.code_effects)
    for j, code in enumerate(codes):
        if code in given:
            shift[:, j] += rows.effects(given[code])
        if j:
            shift[:, j] += rows.trust_effect(model.column, index=j % 8)
    with np.errstate(divide="ignore"):
        b = np.log(target)
    sample = shift[rng.permutation(rows.n)[:100_000]] if rows.n > 100_000 else shift
    for _ in range(30 if rows.n else 0):
        mean = _softmax(sample + b).mean(axis=0)
        if np.allclose(mean, target, atol=1e-4):
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            b = b + np.where(target > 0, np.log(target / np.maximum(mean, 1e-12)), 0.0)
    p = _softmax(shift + b)
    u = rng.random(rows.n)[:, None]
    return np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), len(codes) - 1).astype(np.int32)


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - np.nanmax(np.where(np.isfinite(x), x, -np.inf), axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def _bounds(model: ColumnModel, column: Column) -> tuple[float, float]:
    low = model.min if model.min is not None else column.min
    high = model.max if model.max is not None else column.max
    low = float(low) if low is not None else (float(high) - 100 if high is not None else 0.0)
    high = float(high) if high is not None else low + 100
    return low, high


def _draw_number(rows: _Rows, model: ColumnModel, rng: np.random.Generator) -> np.ndarray:
    column = rows.column(model.column)
    low, high = _bounds(model, column)
    if column.type == "integer" and model.shares:
        values = np.array(sorted(int(v) for v, _ in model.shares))
        probs = np.array([dict(model.shares)[str(v)] for v in values])
        return values[_ordered(rows, model, probs, rng)].astype(np.int64)
    if model.mean is None and model.sd is None:
        raw = rng.uniform(low, high + (1 if column.type == "integer" else 0), rows.n)
    else:
        mean = model.mean if model.mean is not None else (low + high) / 2
        sd = model.sd if model.sd is not None else (high - low) / 6
        raw = rng.normal(mean, sd, rows.n) + (rows.effects(model.effects) + rows.trust_effect(model.column)) * sd
    if column.type == "integer":
        return np.clip(np.floor(raw) if model.mean is None else np.rint(raw), low, high).astype(np.int64)
    places = int(column.option("places") or 0)
    return np.clip(np.round(raw, places), low, high)


def _draw_date(rows: _Rows, model: ColumnModel, rng: np.random.Generator) -> np.ndarray:
    definition = rows.definition
    start_name = model.start or definition.diagnosis_date
    # A date is never before the dates the file says it follows.
    refs = [
        r.reference for r in definition.rules if r.type == "not_before" and r.column == model.column and r.reference
    ]
    if model.events:
        floor = rows.value[definition.diagnosis_date].copy()
        for ref in refs:
            floor = np.where(rows.present[ref], np.maximum(floor, rows.value[ref]), floor)
        day = np.full(rows.n, -1, dtype=np.int64)
        done = np.zeros(rows.n, dtype=bool)
        for i, event in enumerate(model.events):
            start, has = rows.value[event.start], rows.present[event.start]
            lo, hi = np.maximum(start, floor), start + event.days
            eligible = has & ~done & (lo <= hi)
            lp = rows.effects(event.effects) + rows.trust_effect(model.column, f"event{i}")
            hit = _draw(rng, lp, event.rate, eligible) if rows.n else eligible
            day = np.where(hit, _beta_days(rng, lo, np.maximum(lo, hi)), day)
            done |= hit
            # Later events fall after this one's window: a death within 2 years of diagnosis is not within 90
            # days of the surgery.
            floor = np.where(has, np.maximum(floor, start + event.days + 1), floor)
        after = model.after if model.after is not None else 1500.0
        later = floor + np.rint(rng.exponential(after, rows.n)).astype(np.int64)
        return np.where(done, day, later)
    start = rows.value[start_name]
    if not rows.present[start_name].all():  # no start: from the diagnosis date
        start = np.where(rows.present[start_name], start, rows.value[definition.diagnosis_date])
    low, high = model.days or (0, 365)
    typical = model.typical if model.typical is not None else low + (high - low) / 6
    scale = max(typical - low, 0.5) / 1.678  # the median of a Gamma(2) is 1.678 times its scale
    delay = rng.gamma(2.0, scale, rows.n) * np.exp(rows.effects(model.effects) + rows.trust_effect(model.column))
    day = start + np.clip(low + np.rint(delay), low, high).astype(np.int64)
    for ref in refs:
        day = np.where(rows.present[ref], np.maximum(day, rows.value[ref]), day)
    return day


def _draw_text(rows: _Rows, name: str, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(1, 10, rows.n)


_DRAWERS = {"boolean": _draw_boolean, "code": _draw_code, "integer": _draw_number, "decimal": _draw_number}


def _undo_after_extract(rows: _Rows, order: list[str]) -> bool:
    """Events after the extract date have not happened: a date the rules need undoes its condition (e.g. a
    resection not yet done), any other is blank. True when something changed."""
    changed = False
    roles = {rows.definition.patient_id, rows.definition.provider, rows.definition.diagnosis_date}
    dates = [name for name in order if name not in roles and rows.column(name).type == "date"]
    for name in dates:
        late = rows.present[name] & (rows.value[name] > rows.extract)
        if not late.any():
            continue
        changed = True
        needed = _needed(rows, name)
        _mark(rows, name, late & ~needed)
        for rule in rows.definition.rules:
            if rule.column == name and rule.type == "required_when":
                hit = late & rows.condition(rule.when)
                for gate, _ in rule.when:
                    _mark(rows, gate, hit)
        if rows.column(name).required:  # required whatever happens: the latest day allowed
            rows.drawn[name].values = np.minimum(rows.drawn[name].values, rows.extract)
    if changed:
        for name in order:
            if name in rows.drawn:
                _settle(rows, name)
    return changed


def _mark(rows: _Rows, name: str, mask: np.ndarray) -> None:
    rows.undone[name] = rows.undone.get(name, np.zeros(rows.n, dtype=bool)) | mask


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def generate_extract(
    definition: AuditDefinition,
    rows: int,
    seed: int,
    extract_date: dt.date,
    trusts: pd.DataFrame,
    successors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A synthetic patient-level extract in the format of ``definition``.

    Columns are exactly the definition's, in order, as strings ready for CSV: dates YYYY-MM-DD, booleans
    "true"/"false", "" for missing; every row passes the file's checks. Diagnoses fall in the three audit years
    (April-March) ending at or before ``extract_date``, thinner in the last 90 days (registration lag). Events
    after ``extract_date`` are not recorded. With ``successors`` (columns predecessor_code, successor_code,
    effective_from), about 1% of rows of a successor trust diagnosed before the merger carry the predecessor code,
    as real multi-year extracts do. Deterministic for the same (definition, rows, seed, extract_date, trusts,
    successors).
    """
    _check_seed(seed)
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if isinstance(extract_date, dt.datetime):
        extract_date = extract_date.date()
    spec = _spec(definition)
    found = _trusts(definition, seed, trusts)
    rng = _rng(seed, definition.code, 3)
    start, end = audit_window(extract_date)
    first, last, extract = _day(start), _day(end), _day(extract_date)
    prov = rng.choice(len(found.codes), size=rows, p=found.weights).astype(np.int32)
    dx = _diagnosis_days(rng, rows, first, last)
    ids = _patient_ids(rng, rows, definition.code[0].upper())
    recorded_prov, extra = _predecessors(rng, prov, dx, found.codes, successors)

    state = _Rows(definition=definition, spec=spec, seed=seed, n=rows, prov=prov, extract=extract, trusts=found)
    roles = (definition.patient_id, definition.provider, definition.diagnosis_date)
    everyone = np.ones(rows, dtype=bool)
    state.value[definition.diagnosis_date], state.present[definition.diagnosis_date] = dx, everyone
    state.value[definition.provider], state.present[definition.provider] = prov, everyone
    state.value[definition.patient_id], state.present[definition.patient_id] = np.arange(rows), everyone
    by_name = {c.name: c for c in definition.columns}
    order = generation_order(by_name, definition.rules, definition.demo, roles)
    for name in order:
        if name in roles:
            continue
        column, model = by_name[name], spec.model(name)
        column_rng = state.rng(name)
        kind = model or ColumnModel(column=name)
        if column.type == "date":
            values = _draw_date(state, kind, column_rng)
        elif column.type == "text":
            values = _draw_text(state, name, column_rng)
        else:
            values = _DRAWERS[column.type](state, kind, column_rng)
        state.drawn[name] = _Draw(values=values, artefact=_blanks(state, name, model, column_rng))
        _settle(state, name)
    for _ in range(4):
        if not _undo_after_extract(state, order):
            break

    frame: dict[str, Any] = {}
    for column in definition.columns:
        name = column.name
        if name == definition.patient_id:
            frame[name] = ids
        elif name == definition.provider:
            frame[name] = _col([*found.codes.tolist(), *extra], recorded_prov)
        else:
            frame[name] = _format(state, column, name == definition.diagnosis_date)
    return pd.DataFrame(frame, columns=definition.column_names)


def _format(rows: _Rows, column: Column, diagnosis: bool) -> pd.api.extensions.ExtensionArray:
    values, present = rows.value[column.name], rows.present[column.name]
    if column.type == "code":
        return _labels(list(column.codes), values, present)
    if column.type == "boolean":
        return _labels(["false", "true"], values.astype(np.int32), present)
    if column.type == "date":
        first = int(values[present].min()) if present.any() else 0
        safe = np.where(present, values, first) - first
        span = int(safe.max()) + 1 if rows.n else 1
        days = (first + np.arange(span)).astype("datetime64[D]")
        return _labels(np.datetime_as_string(days, unit="D").tolist(), safe, present)
    if column.type == "integer":
        low = int(values.min()) if rows.n else 0
        span = int(values.max()) - low + 1 if rows.n else 1
        return _labels([str(low + i) for i in range(span)], values - low, present)
    if column.type == "decimal":
        places = int(column.option("places") or 0)
        text = np.char.mod(f"%.{places}f", values) if rows.n else np.array([], dtype=str)
        return pd.array(np.where(present, text, ""), dtype=_STR)
    if column.unique:
        return _patient_ids(rows.rng(column.name), rows.n, column.name[0].upper())
    return _labels([f"{column.name}-{i}" for i in range(10)], values, present)


def write_extract(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` as CSV: header, UTF-8, LF line endings, quotes only where needed.

    Uses Arrow's CSV writer (a million rows in well under a second); values that need quoting (commas, quotes,
    newlines) fall back to pandas.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none", eol="\n")
    try:
        pa_csv.write_csv(table, os.fspath(path), write_options=options)
    except pa.ArrowInvalid:
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
