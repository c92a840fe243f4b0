"""A small registry drawn from a known synthetic truth (numpy only): about 300 patients a year across dozens of
trusts, for the fixture definition ``tests/fixtures/definitions/penile.yaml``.

Each trust's true share of patients discussed at a specialist MDT is drawn from a beta distribution (so trusts
really differ, a little); organ-sparing surgery has one true rate everywhere. Trusts differ in size, and a few
are tiny (a patient or two a year), as in a real registry. The tests judge the computation against this truth,
never against the code's own output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from tests.conftest import FIXTURES

DEFINITION = FIXTURES / "definitions" / "penile.yaml"
#: Audit years (April to March) of diagnosis; the extract is drawn after the last one ends.
YEARS = (2021, 2022, 2023, 2024)
EXTRACT_DATE = date(2025, 4, 30)
PATIENTS_A_YEAR = 300
#: The true beta distribution of the trusts' MDT rates: mean and concentration a + b.
MDT_MEAN, MDT_CONCENTRATION = 0.75, 25.0
ORGAN_SPARING_RATE = 0.4
TINY_TRUSTS = 3  # the last trusts get a patient or two a year


@dataclass(frozen=True)
class Registry:
    frame: pd.DataFrame  # the extract's rows, typed as a release's frame is
    truth: dict[str, float]  # each trust's true MDT rate


def synthetic_registry(trusts: list[str], *, seed: int = 14) -> Registry:
    rng = np.random.default_rng(seed)
    k = len(trusts)
    truth = rng.beta(MDT_MEAN * MDT_CONCENTRATION, (1 - MDT_MEAN) * MDT_CONCENTRATION, size=k)
    weights = rng.lognormal(0.0, 0.6, size=k)
    weights[-TINY_TRUSTS:] = weights[:-TINY_TRUSTS].sum() * 0.004  # about 1.2 patients a year each
    weights /= weights.sum()
    frames = []
    for year in YEARS:
        trust_index = rng.choice(k, size=PATIENTS_A_YEAR, p=weights)
        start = np.datetime64(f"{year}-04-01")
        days = int((np.datetime64(f"{year + 1}-04-01") - start) / np.timedelta64(1, "D"))
        frames.append(
            pd.DataFrame(
                {
                    "trust_index": trust_index,
                    "date_of_diagnosis": start + rng.integers(0, days, size=PATIENTS_A_YEAR).astype("timedelta64[D]"),
                    "age": rng.integers(40, 95, size=PATIENTS_A_YEAR),
                    "mdt_discussed": rng.random(PATIENTS_A_YEAR) < truth[trust_index],
                    "organ_sparing": rng.random(PATIENTS_A_YEAR) < ORGAN_SPARING_RATE,
                }
            )
        )
    rows = pd.concat(frames, ignore_index=True)
    frame = pd.DataFrame(
        {
            "registry_id": [f"P{i:05d}" for i in range(len(rows))],
            "trust": np.asarray(trusts, dtype=object)[rows["trust_index"].to_numpy()],
            "date_of_diagnosis": pd.to_datetime(rows["date_of_diagnosis"]),
            "age": rows["age"].astype("Int64"),
            "mdt_discussed": rows["mdt_discussed"].astype("boolean"),
            "organ_sparing": rows["organ_sparing"].astype("boolean"),
        }
    )
    return Registry(frame=frame, truth=dict(zip(trusts, truth.tolist(), strict=True)))


def in_window(frame: pd.DataFrame, first_year: int, last_year: int) -> np.ndarray:
    """Patients diagnosed in audit years ``first_year`` to ``last_year`` (April to March)."""
    dates = frame["date_of_diagnosis"]
    return ((dates >= pd.Timestamp(first_year, 4, 1)) & (dates < pd.Timestamp(last_year + 1, 4, 1))).to_numpy()
