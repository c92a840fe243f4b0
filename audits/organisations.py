"""Load NHS trusts, Cancer Alliances, predecessor codes and the trusts' other names from seed CSVs.

Re-runnable: a newer file updates names and alliances, adds trusts, and marks
trusts that are no longer listed inactive (never deleted: results refer to them).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction

from audits.models import Alliance as _Alliance
from audits.models import Trust as _Trust
from audits.models import TrustAlias as _TrustAlias
from audits.models import TrustSuccessor as _TrustSuccessor

if TYPE_CHECKING:
    from audits.ingest.parse import ProviderLookup

SEED_DIR = Path(__file__).resolve().parent / "seed"


class OrganisationFileError(ValueError):
    """A seed file is malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class LoadSummary:
    alliances: int
    trusts: int
    inactive: int
    successors: int
    aliases: int = 0


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise OrganisationFileError(f"{path.name}: missing column(s) {', '.join(missing)}")
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items()}) for row in reader]


@transaction.atomic
def load_organisations(*, directory: Path = SEED_DIR, models=None) -> LoadSummary:
    """Upsert alliances, trusts and successors from ``directory`` in one transaction.

    ``models`` lets a data migration pass its historical (Alliance, Trust, TrustSuccessor), and TrustAlias once
    it exists (:func:`load_aliases`: without it, or without ``aliases.csv`` in ``directory``, no alias is loaded).
    """
    Alliance, Trust, TrustSuccessor, *rest = models or (_Alliance, _Trust, _TrustSuccessor, _TrustAlias)
    alliances = _rows(directory / "cancer_alliances.csv", ("alliance_code", "alliance_name"))
    trusts = _rows(directory / "trusts.csv", ("trust_code", "trust_name", "alliance_code"))
    successors = _rows(directory / "successors.csv", ("predecessor_code", "successor_code", "effective_from"))

    for _, row in alliances:
        Alliance.objects.update_or_create(code=row["alliance_code"], defaults={"name": row["alliance_name"]})
    alliance_codes = set(Alliance.objects.values_list("code", flat=True))
    listed = set()
    for line, row in trusts:
        if row["alliance_code"] not in alliance_codes:
            raise OrganisationFileError(
                f"trusts.csv line {line}: alliance_code {row['alliance_code']!r} is not a known Cancer Alliance"
            )
        code = row["trust_code"].upper()
        listed.add(code)
        Trust.objects.update_or_create(
            code=code,
            defaults={
                "name": row["trust_name"],
                "alliance_id": row["alliance_code"],
                "icb_code": row.get("icb_code", ""),
                "region": row.get("nhs_region", ""),
                "active": True,
            },
        )
    inactive = Trust.objects.exclude(code__in=listed).update(active=False)
    for line, row in successors:
        if row["successor_code"].upper() not in listed:
            raise OrganisationFileError(
                f"successors.csv line {line}: successor_code {row['successor_code']!r} is not in trusts.csv"
            )
        try:
            since = date.fromisoformat(row["effective_from"])
        except ValueError as exc:
            raise OrganisationFileError(
                f"successors.csv line {line}: effective_from {row['effective_from']!r} is not YYYY-MM-DD"
            ) from exc
        TrustSuccessor.objects.update_or_create(
            predecessor_code=row["predecessor_code"].upper(),
            defaults={
                "successor_id": row["successor_code"].upper(),
                "effective_from": since,
                "note": row.get("note", ""),
            },
        )
    aliases = load_aliases(directory=directory, models=(Trust, rest[0])) if rest else 0
    return LoadSummary(len(alliances), len(listed), inactive, len(successors), aliases)


@transaction.atomic
def load_aliases(*, directory: Path = SEED_DIR, models=None) -> int:
    """Replace the trusts' other names with ``aliases.csv`` of ``directory`` (declarative: a name not in the
    file is removed); the number of rows, or 0 without the file (the names loaded before are kept).

    Each row's trust is a current one (loaded from ``trusts.csv`` first); ``kind`` is former or common.
    ``models``: a data migration's historical (Trust, TrustAlias)."""
    Trust, TrustAlias = models or (_Trust, _TrustAlias)
    path = directory / "aliases.csv"
    if not path.exists():
        return 0
    rows = _rows(path, ("trust_code", "alias", "kind"))
    current = set(Trust.objects.filter(active=True).values_list("code", flat=True))
    kinds = {choice.value for choice in _TrustAlias.Kind}
    wanted: dict[tuple[str, str], dict[str, str]] = {}
    for line, row in rows:
        code = row["trust_code"].upper()
        if code not in current:
            raise OrganisationFileError(
                f"aliases.csv line {line}: trust_code {row['trust_code']!r} is not a current trust"
            )
        if not row["alias"]:
            raise OrganisationFileError(f"aliases.csv line {line}: alias is empty")
        if row["kind"] not in kinds:
            raise OrganisationFileError(
                f"aliases.csv line {line}: kind {row['kind']!r} is not one of {', '.join(sorted(kinds))}"
            )
        wanted[(code, row["alias"])] = {"kind": row["kind"], "note": row.get("note", "")}
    for (code, alias), fields in wanted.items():
        TrustAlias.objects.update_or_create(trust_id=code, alias=alias, defaults=fields)
    every = TrustAlias.objects.values_list("pk", "trust_id", "alias")
    stale = [pk for pk, code, alias in every if (code, alias) not in wanted]
    TrustAlias.objects.filter(pk__in=stale).delete()
    return len(rows)


def provider_lookup() -> ProviderLookup:
    """Trust codes an extract may use, for the validator."""
    from audits.ingest.parse import ProviderLookup  # the validator's module (Arrow): imported when used

    return ProviderLookup(
        current=frozenset(_Trust.objects.filter(active=True).values_list("code", flat=True)),
        successors={s.predecessor_code: (s.successor_id, s.effective_from) for s in _TrustSuccessor.objects.all()},
    )
