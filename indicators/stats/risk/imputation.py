"""Hot-deck multiple imputation of missing case-mix values from donors in the same cell.

A patient with a missing value gets ``IMPUTATIONS`` draws of it from recorded patients like them:
same recorded case-mix and audit year, any provider, outcome not used (hot-deck multiple
imputation within donor cells: Andridge & Little 2010, International Statistical Review
78:40-64; van Buuren 2018, *Flexible Imputation of Missing Data*, 2nd ed., §3.4, §5.1;
docs/adr/0005).
"""

from __future__ import annotations

import numpy as np

from indicators.stats.risk.covariates import YEAR_TERM, Covariate

__all__ = ["IMPUTATIONS", "IMPUTATION_SEED", "donor_cells", "draw_donors", "imputed_raw"]

IMPUTATIONS = 10  # draws per patient with a missing value (van Buuren 2018 §2.8: 5 to 20 for point estimates)
MIN_DONORS = 5  # a donor cell with fewer recorded patients is widened
MAX_CELL_COVARIATES = 3  # recorded covariates defining a donor cell, in the definition's order
IMPUTATION_SEED = 20181  # fixed, so a release's results are reproducible


def donor_cells(c: Covariate, complete: np.ndarray) -> np.ndarray:
    """Donor-cell code of every row for one covariate (-1 where missing): its level, or its
    fifth of the complete cases' distribution for a number."""
    if c.type == "categorical":
        return c.codes
    if c.type == "boolean":
        return np.where(c.missing_rows, -1, np.nan_to_num(c.values)).astype(np.int64)
    edges = np.quantile(c.values[complete], [0.2, 0.4, 0.6, 0.8])
    return np.where(c.missing_rows, -1, np.searchsorted(edges, c.values, side="right")).astype(np.int64)


def _cell_key(columns: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    key = np.zeros(rows.size, dtype=np.int64)
    for col in columns:
        part = col[rows]
        key = key * (int(col.max()) + 2) + part + 1
        if key.size and key.max() > 2**40:  # keep the mixed-radix key small
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
    return key


def draw_donors(
    specs: list[Covariate],
    cells: dict[str, np.ndarray],
    year_cells: np.ndarray | None,
    complete: np.ndarray,
    recipients: np.ndarray,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each recipient row, ``draws`` donor rows drawn at random from the complete cases
    in its donor cell: the same values of up to ``MAX_CELL_COVARIATES`` of its recorded
    covariates (in the definition's order) and the same audit year; a cell with fewer than
    ``MIN_DONORS`` donors is widened by dropping the year, then the last covariate. The
    outcome and the provider are never used. Returns an int array (recipients x draws)."""
    donor_rows = np.flatnonzero(complete)
    if year_cells is not None:
        cells = {**cells, YEAR_TERM: year_cells}
    out = np.empty((recipients.size, draws), dtype=np.int64)
    pattern = np.zeros(recipients.size, dtype=np.int64)
    for j, c in enumerate(specs):
        pattern |= c.missing_rows[recipients].astype(np.int64) << j
    sorted_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    for bits in np.unique(pattern):
        todo = np.flatnonzero(pattern == bits)
        recorded = [c.column for j, c in enumerate(specs) if not (int(bits) >> j) & 1]
        chosen = recorded[:MAX_CELL_COVARIATES]
        ladder = [(*chosen, YEAR_TERM)] if year_cells is not None else []
        ladder += [tuple(chosen[:k]) for k in range(len(chosen), -1, -1)]
        for names in ladder:
            if todo.size == 0:
                break
            columns = [cells[n] for n in names]
            if names not in sorted_cache:
                keys = _cell_key(columns, donor_rows)
                # small keys sort by radix (linear time) as 16-bit integers
                order = np.argsort(keys.astype(np.uint16) if keys.max() < 2**16 else keys, kind="stable")
                sorted_cache[names] = (keys[order], donor_rows[order])
            sorted_keys, sorted_rows = sorted_cache[names]
            wanted = _cell_key(columns, recipients[todo])
            lo = np.searchsorted(sorted_keys, wanted, side="left")
            count = np.searchsorted(sorted_keys, wanted, side="right") - lo
            ok = count >= (MIN_DONORS if names else 1)
            take = todo[ok]
            pick = lo[ok, None] + (rng.random((take.size, draws)) * count[ok, None]).astype(np.int64)
            out[take] = sorted_rows[pick]
            todo = todo[~ok]
    return out


def imputed_raw(c: Covariate, recipients: np.ndarray, donors: np.ndarray) -> np.ndarray:
    own = c.raw(recipients)
    if not c.missing_rows[recipients].any():
        return own
    return np.where(c.missing_rows[recipients], c.raw(donors), own)
