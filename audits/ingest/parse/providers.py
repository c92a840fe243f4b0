"""Trust codes: the known ones, merged trusts' predecessor codes, and the rows submitted under a predecessor's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from audits.ingest.columns.base import true_mask


@dataclass(frozen=True)
class ProviderLookup:
    """Known trust codes, and predecessor codes with their successor and effective date."""

    current: frozenset[str]
    successors: dict[str, tuple[str, date]] = field(default_factory=dict)

    def resolve(self, code: str) -> str | None:
        seen = set()
        while code in self.successors and code not in seen:
            seen.add(code)
            code = self.successors[code][0]
        return code if code in self.current else None


class Predecessors:
    """Rows under a merged trust's old code, batch by batch: counted for the report's warnings."""

    def __init__(self, providers: ProviderLookup):
        self.providers = providers
        self._rows: dict[str, int] = {}
        self._late_rows: dict[str, int] = {}

    def count(self, submitted: pa.Array | None, diagnosed: pa.Array) -> None:
        """Rows under a merged trust's old code: counted for the warnings, late ones flagged."""
        if submitted is None or not self.providers.successors:
            return
        upper = pc.utf8_upper(submitted)
        for code, (_, since) in self.providers.successors.items():
            hit = true_mask(pc.equal(upper, code))
            if not hit.any():
                continue
            self._rows[code] = self._rows.get(code, 0) + int(hit.sum())
            late = hit & true_mask(pc.greater_equal(diagnosed, pa.scalar(since)))
            if late.any():
                self._late_rows[code] = self._late_rows.get(code, 0) + int(late.sum())

    def warnings(self) -> list[str]:
        found = []
        for code, count in sorted(self._rows.items()):
            successor, since = self.providers.successors[code]
            found.append(
                f"{count} row(s) with predecessor code {code} were counted under its successor "
                f"{self.providers.resolve(code)} (merged from {since.isoformat()})."
            )
        for code, count in sorted(self._late_rows.items()):
            _, since = self.providers.successors[code]
            found.append(
                f"{count} row(s) use code {code} for a diagnosis on or after {since.isoformat()}, when it no "
                f"longer existed; check the provider coding."
            )
        return found
