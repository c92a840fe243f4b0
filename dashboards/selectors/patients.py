"""A trust's page for patients and the public: every shown audit's public piece of the trust, with its definition."""

from __future__ import annotations

from audits.models import Trust
from audits.registry import all_definitions
from dashboards.pages.for_patients import PatientPage, PatientSource, patient_page
from dashboards.pages.trust import TrustPiece, trust_key
from dashboards.selectors.cache import pieces
from indicators.registry import indicators_for
from indicators.selectors import shown_runs


def for_patients_page(trust: Trust) -> PatientPage:
    """The trust's page in plain words, by audit name, from the *public* pieces whoever reads it (an analyst or the
    trust's own team too): the page is for patients, and says only what the public may see."""
    runs = shown_runs()
    key = trust_key(trust.code, "public")
    found = pieces({run: {key: TrustPiece} for run in runs.values()})
    definitions = all_definitions()
    sources = []
    for audit_code, run in sorted(runs.items(), key=lambda item: item[1].release.audit.name):
        piece = found.get((run.pk, key))
        if piece is not None and audit_code in definitions:
            indicators = {d.code: d for d in indicators_for(audit_code)}
            sources.append(PatientSource(audit=definitions[audit_code], indicators=indicators, piece=piece))
    return patient_page(trust, sources)
