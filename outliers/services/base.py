"""What every part of the outlier process shares: its error, who the system is, a case's stages from the
policy snapshot it opened with, and a stage's deadline in working days."""

from __future__ import annotations

from datetime import date

from accounts.models import AuditLogEntry
from audits.models import Release
from indicators.outlier_policy import Policy, Stage, policy_from
from outliers.models import CaseEvent, OutlierCase
from outliers.workdays import add_working_days

Action = CaseEvent.Action
LogAction = AuditLogEntry.Action
#: Who the system is in a case's history and the audit log when no one acted (opening, overdue steps).
SYSTEM = "outlier process"
#: The audit team may close an open case at any stage (e.g. once its flag has cleared).
CLOSE = "close"


class CaseError(ValueError):
    """The case cannot take this outcome (closed, or no such outcome at its stage)."""


class CaseClosed(CaseError):
    """The case is closed or void: it takes no outcome any more."""


def release_policy(release: Release) -> Policy:
    """The outlier policy of the definition the release was checked against (the default if it has none)."""
    return policy_from((release.definition or {}).get("outlier_policy") or {}, origin=f"release {release.pk}")


def case_stage(case: OutlierCase, name: str = "") -> Stage:
    """A stage (the current one by default) of the case's track, from the policy snapshot it opened with."""
    policy = Policy.from_json(case.policy)
    track = next(t for t in policy.tracks if t.name == case.track)
    return track.stage(name or case.stage)


def due_date(start: date, stage: Stage, country: str) -> date | None:
    return None if stage.working_days is None else add_working_days(start, stage.working_days, country)
