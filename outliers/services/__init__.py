"""The outlier process: opening cases from a computed release, moving them on by role, and chasing overdue stages.

One module a responsibility, their public names re-exported here (pages, API, tasks and commands import
them from ``outliers.services``): ``opening``, ``transitions``, ``overdue``, ``notifications`` (history and
emails), ``base`` (what they share).

- ``open_cases(run)``: each trust-level result of the run in the policy's reporting period with a flag in its
  levels and directions opens a case, or carries forward the open case of an earlier release (event "flag
  persists"); an open case of an earlier release whose result is no longer flagged says "flag cleared" and
  stays open for the audit team to close. A recompute of the same release opens nothing again (the unique
  constraint on (release, indicator, trust, period), and ``get_or_create``).
- ``open_published_cases(release)``: once a release is published, the cases of a policy whose track waits for
  publication (supportive contact; ``opening.OPEN_AT_PUBLICATION``): ``open_cases`` opens none from a draft.
- ``void_cases(release)``: a withdrawn release's cases become void (``outliers.signals`` calls it).
- ``advance(case, outcome, actor, note)``: the stage's owner (``may_act``) records its outcome; the case moves
  to the next stage with a deadline in working days (``outliers.workdays``), or closes.
- ``check_overdue(today)``: each overdue step of a stage (a reminder, then an escalation) is sent once.

Every change is a ``CaseEvent`` (never changed) and, when someone acts, an entry of the audit log. Emails are
rendered from ``templates/outliers/email/*.txt``, kept in the event, and sent by a Celery task once the
transaction commits (``outliers.tasks.send_case_email``), never in a request.
"""

from django.utils import timezone  # noqa: F401  # tests pin "today" as services.timezone.localdate

from outliers.services.base import CLOSE, SYSTEM, Action, CaseClosed, CaseError, LogAction, case_stage, release_policy
from outliers.services.notifications import recipient_names, recipients
from outliers.services.opening import flagged_results, open_cases, open_published_cases, void_cases
from outliers.services.overdue import check_overdue
from outliers.services.transitions import advance, may_act, outcomes_of

__all__ = [
    "CLOSE",
    "SYSTEM",
    "Action",
    "CaseClosed",
    "CaseError",
    "LogAction",
    "advance",
    "case_stage",
    "check_overdue",
    "flagged_results",
    "may_act",
    "open_cases",
    "open_published_cases",
    "outcomes_of",
    "recipient_names",
    "recipients",
    "release_policy",
    "void_cases",
]
