"""On a trust's public page: the results reviewed with the trust, and the trust's responses as published."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from audits.models import Release
from dashboards.pages.outliers.common import definitions_of
from dashboards.pages.piece import Piece
from outliers import access


@dataclass(kw_only=True)
class PublishedResponse(Piece):
    """On a trust's public page: a result reviewed with the trust, and the trust's response as published."""

    audit: str
    indicator: str
    indicator_title: str
    period: str
    response: str
    published: str


def published_responses(trust_code: str, releases: list[Release]) -> dict[str, list[PublishedResponse]]:
    """By audit: the reviewed results of the trust's page (``outliers.access.published_responses``)."""
    cases = list(access.published_responses(trust_code, releases))
    titles = definitions_of({c.audit_id for c in cases})
    found: dict[str, list[PublishedResponse]] = {}
    for case in cases:
        definition = titles.get((case.audit_id, case.indicator))
        at = timezone.localtime(case.public_response_at)
        found.setdefault(case.audit_id, []).append(
            PublishedResponse(
                audit=case.audit_id,
                indicator=case.indicator,
                indicator_title=definition.title if definition else case.indicator,
                period=case.period,
                response=case.public_response,
                published=f"{at.day} {at:%B %Y}",
            )
        )
    return found
