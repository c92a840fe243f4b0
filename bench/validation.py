"""Methods validation: how often each funnel method flags when nothing but chance varies, and how
often it flags a trust that is truly worse. Writes docs/methods-validation.md.

Everything is simulated with a known truth (seeded, so a rerun gives the same page):

- Null flag rates, proportions: units of every size with x ~ binomial(n, θ) at θ = 3%, 15% and
  55%, judged against θ by midp (the default), exact (Spiegelhalter's interpolated binomial,
  with the zero-count guard), wilson (PHE), arcsine (FunnelPlotR) and normal.
- Null flag rates, risk-adjusted outcomes: every patient has a known risk (logit-normal case
  mix, SD 1 on the logit scale, mean event rate 3%, 15% or 55%); a unit's patients fall into
  20 risk strata at random, its deaths are the sum of its patients' Bernoulli outcomes and E
  is the sum of their risks. Judged by midp (Poisson mid-p), exact (FunnelPlotR chi-square
  Poisson), isp (binomial mid-p with the unit's patients, what the engine uses for common
  outcomes) and isp+V (normal with Σp(1 − p), when the variance is known).
- Power: one trust at odds ratio 1.5, 2 or 3 with 50, 200 or 800 patients, judged against
  the true target (as when the trust is one of many), for each method.

Rates are per side ("high", "low") and level: alert = outside the 95% limits (nominal 2.5% per
side), alarm = outside the 99.8% limits (nominal 0.1%). No overdispersion is applied (units
vary by chance alone). Binned by expected events E (n·θ, or Σ risk): 1-5, 5-20, 20-100,
100-1,000. Runs in about a minute on one core.

    make bench-validation      # or: python bench/validation.py [--units 10000] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indicators.stats.analysis import COMMON_OUTCOME_RATE, unit_figures  # noqa: E402

RATES = (0.03, 0.15, 0.55)
BINS = ((1.0, 5.0), (5.0, 20.0), (20.0, 100.0), (100.0, 1000.0))
PROPORTION_METHODS = ("midp", "exact", "wilson", "arcsine", "normal")
RATIO_METHODS = ("midp", "exact", "isp", "isp+V")
ODDS_RATIOS = (1.5, 2.0, 3.0)
VOLUMES = (50, 200, 800)
STRATA = 20
CASE_MIX_SD = 1.0


def _side_rates(flags: np.ndarray) -> tuple[float, float, float, float]:
    """(alert high, alert low, alarm high, alarm low) as fractions; an alarm is also an alert."""
    return (
        float(np.isin(flags, ("alert_high", "alarm_high")).mean()),
        float(np.isin(flags, ("alert_low", "alarm_low")).mean()),
        float((flags == "alarm_high").mean()),
        float((flags == "alarm_low").mean()),
    )


def _expected_in_bin(rng: np.random.Generator, low: float, high: float, units: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), units))


def _strata_risks(rate: float) -> np.ndarray:
    """Risks of STRATA equally likely strata of a logit-normal case mix whose mean risk is ``rate``."""
    centres = stats.norm.ppf((np.arange(STRATA) + 0.5) / STRATA) * CASE_MIX_SD
    lo, hi = -12.0, 12.0
    for _ in range(80):  # bisection on the logit mean so the mean risk is the rate
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + centres)))) < rate:
            lo = mid
        else:
            hi = mid
    return np.asarray(1 / (1 + np.exp(-((lo + hi) / 2 + centres))))


def _risk_adjusted_units(
    rng: np.random.Generator, rate: float, patients: np.ndarray, odds_ratio: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and Σp(1 − p) of units whose patients fall into risk strata at random."""
    risks = _strata_risks(rate)
    counts = rng.multinomial(patients.astype(np.int64), np.full(STRATA, 1 / STRATA))
    logit = np.log(risks / (1 - risks)) + np.log(odds_ratio)
    truth = 1 / (1 + np.exp(-logit))
    observed = rng.binomial(counts, truth).sum(axis=1).astype(float)
    expected = counts @ risks
    variance = counts @ (risks * (1 - risks))
    return observed, expected, variance


def _ratio_flags(method: str, observed, expected, patients, variance) -> np.ndarray:
    if method in ("isp", "isp+V"):
        extra = {"patients": patients, "variance": variance if method == "isp+V" else None}
        return unit_figures("ratio", "isp", 1.0, observed, expected, **extra)["flag"]
    return unit_figures("ratio", method, 1.0, observed, expected)["flag"]


def null_proportions(rng: np.random.Generator, units: int) -> list[tuple]:
    rows = []
    for rate in RATES:
        for low, high in BINS:
            n = np.maximum(np.round(_expected_in_bin(rng, low, high, units) / rate), 1.0)
            x = rng.binomial(n.astype(np.int64), rate).astype(float)
            for method in PROPORTION_METHODS:
                flags = unit_figures("proportion", method, rate, x, n)["flag"]
                rows.append((rate, f"{low:g}-{high:g}", method, *_side_rates(flags)))
    return rows


def null_ratios(rng: np.random.Generator, units: int) -> list[tuple]:
    rows = []
    for rate in RATES:
        for low, high in BINS:
            patients = np.maximum(np.round(_expected_in_bin(rng, low, high, units) / rate), 1.0)
            observed, expected, variance = _risk_adjusted_units(rng, rate, patients)
            keep = expected > 0
            for method in RATIO_METHODS:
                flags = _ratio_flags(method, observed[keep], expected[keep], patients[keep], variance[keep])
                rows.append((rate, f"{low:g}-{high:g}", method, *_side_rates(flags)))
    return rows


def power(rng: np.random.Generator, replicates: int) -> tuple[list[tuple], list[tuple]]:
    proportion_rows, ratio_rows = [], []
    for rate in RATES:
        for n in VOLUMES:
            sizes = np.full(replicates, float(n))
            for ratio in ODDS_RATIOS:
                odds = rate / (1 - rate) * ratio
                x = rng.binomial(n, odds / (1 + odds), replicates).astype(float)
                for method in PROPORTION_METHODS:
                    flags = unit_figures("proportion", method, rate, x, sizes)["flag"]
                    high, _, alarm, _ = _side_rates(flags)
                    proportion_rows.append((rate, n, ratio, method, high, alarm))
                observed, expected, variance = _risk_adjusted_units(rng, rate, sizes, ratio)
                for method in RATIO_METHODS:
                    flags = _ratio_flags(method, observed, expected, sizes, variance)
                    high, _, alarm, _ = _side_rates(flags)
                    ratio_rows.append((rate, n, ratio, method, high, alarm))
    return proportion_rows, ratio_rows


def _pct(v: float, digits: int = 2) -> str:
    return f"{100 * v:.{digits}f}"


def _null_table(rows: list[tuple]) -> list[str]:
    lines = [
        "| event rate | expected events | method | alert high % | alert low % | alarm high % | alarm low % |",
        "|---|---|---|---|---|---|---|",
    ]
    for rate, span, method, ah, al, mh, ml in rows:
        name = f"**{method}**" if method == "midp" else method
        lines.append(
            f"| {_pct(rate, 0)}% | {span} | {name} | {_pct(ah)} | {_pct(al)} | {_pct(mh, 3)} | {_pct(ml, 3)} |"
        )
    return lines


def _power_table(rows: list[tuple], methods: tuple[str, ...]) -> list[str]:
    header = "| event rate | patients | " + " | ".join(f"OR {r:g}" for r in ODDS_RATIOS) + " |"
    lines = [
        "Flagged high at alert level, % (alarm level in brackets), per method.",
        "",
        header.replace("| patients |", "| patients | method |"),
        "|---|---|---|" + "---|" * len(ODDS_RATIOS),
    ]
    table = {(r[0], r[1], r[2], r[3]): r[4:] for r in rows}
    for rate in RATES:
        for n in VOLUMES:
            for method in methods:
                cells = []
                for ratio in ODDS_RATIOS:
                    high, alarm = table[(rate, n, ratio, method)]
                    cells.append(f"{_pct(high, 1)} ({_pct(alarm, 1)})")
                lines.append(f"| {_pct(rate, 0)}% | {n} | {method} | " + " | ".join(cells) + " |")
    return lines


def _headline(prop_rows: list[tuple], ratio_rows: list[tuple]) -> list[str]:
    """Units with at least 5 expected events, pooled over the bins 5-1,000 (equal numbers per bin)."""
    lines = [
        "| outcome | event rate | method | alert high % | alert low % | alarm high % | alarm low % |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, rows, methods in (
        ("proportion", prop_rows, PROPORTION_METHODS),
        ("risk-adjusted O/E", ratio_rows, RATIO_METHODS),
    ):
        for rate in RATES:
            for method in methods:
                picked = [r for r in rows if r[0] == rate and r[2] == method and r[1] != "1-5"]
                means = np.mean([r[3:] for r in picked], axis=0)
                name = f"**{method}**" if method == "midp" else method
                lines.append(
                    f"| {label} | {_pct(rate, 0)}% | {name} | {_pct(means[0])} | {_pct(means[1])} | "
                    f"{_pct(means[2], 3)} | {_pct(means[3], 3)} |"
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000, help="units per event rate and size bin (null)")
    parser.add_argument("--replicates", type=int, default=10_000, help="simulated trusts per power cell")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "methods-validation.md")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    prop_null = null_proportions(rng, args.units)
    ratio_null = null_ratios(rng, args.units)
    prop_power, ratio_power = power(rng, args.replicates)
    elapsed = time.perf_counter() - started
    se_alert = np.sqrt(0.025 * 0.975 / args.units)
    se_alarm = np.sqrt(0.001 * 0.999 / args.units)
    text = [
        "# Methods validation: funnel flags under the null and their power",
        "",
        "Generated by `bench/validation.py` (`make bench-validation`); do not edit by hand. "
        f"Seed {args.seed}, {args.units:,} simulated units per event rate and size bin, "
        f"{args.replicates:,} simulated trusts per power cell; took {elapsed:.0f} s.",
        "",
        "A flag says a trust's result is unlikely by chance alone. So when nothing but chance varies, each "
        "side of the funnel should flag about 2.5% of units at alert level (outside the 95% limits) and "
        "0.1% at alarm level (outside the 99.8% limits), whatever the unit's size and the event rate. "
        f"Simulation error (one standard error): {_pct(se_alert)} points for an alert rate, "
        f"{_pct(se_alarm, 3)} for an alarm rate. No overdispersion is applied here.",
        "",
        "Methods: **midp** is the default (flags from one-sided mid-p tail probabilities of the exact "
        "binomial or Poisson count, Lancaster 1961, Agresti & Gottard 2007); exact, wilson, arcsine and "
        "normal are the peers' limits (Spiegelhalter 2005 with interpolation and the zero-count guard; "
        "PHEindicatormethods; FunnelPlotR); for risk-adjusted outcomes, midp and exact treat the observed "
        "count as Poisson(E); isp is Spiegelhalter's indirectly standardised proportion (binomial mid-p with "
        "the unit's patients, q = E/n); isp+V uses the normal form with the variance Σp(1 − p) of the "
        "predicted risks, which is what the engine uses (it passes each trust's Σp(1 − p)) when the national "
        f"event rate is above {_pct(COMMON_OUTCOME_RATE, 0)}%.",
        "",
        "## Headline: units with at least 5 expected events",
        "",
        "Mean of the bins 5-20, 20-100 and 100-1,000 expected events (equal numbers of units in each).",
        "",
        *_headline(prop_null, ratio_null),
        "",
        "## Null flag rates by unit size: proportions",
        "",
        "x ~ binomial(n, θ), n = E/θ with E log-uniform in the bin.",
        "",
        *_null_table(prop_null),
        "",
        "## Null flag rates by unit size: risk-adjusted outcomes (O/E)",
        "",
        f"Patients' risks logit-normal (SD {CASE_MIX_SD:g} on the logit scale) in {STRATA} strata; "
        "outcomes Bernoulli at each patient's risk; E = Σ risk.",
        "",
        *_null_table(ratio_null),
        "",
        "## Power: proportions",
        "",
        "Read power beside the null rates above: a method that flags more often than its level when "
        "nothing varies (exact at small sizes, for example) also flags a truly worse trust more often, "
        "for the same reason. Where events are few (50 patients at 3% is 1.5 expected deaths) no method "
        "can tell an odds ratio of 1.5 from chance.",
        "",
        "One trust with n patients whose odds of the event are the national odds times the odds ratio, "
        "judged against the national rate.",
        "",
        *_power_table(prop_power, PROPORTION_METHODS),
        "",
        "## Power: risk-adjusted outcomes",
        "",
        "One trust with n patients of random case mix (as above) whose every patient's odds are multiplied "
        "by the odds ratio; E is the sum of the patients' model risks.",
        "",
        *_power_table(ratio_power, RATIO_METHODS),
        "",
    ]
    args.out.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {args.out} in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
