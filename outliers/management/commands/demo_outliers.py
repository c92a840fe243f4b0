"""The outlier process in the demo: a trust's clinical lead, the trust's contacts and a case part-way through
its stages. For a local demo only (``make demo``), after
``setup_demo`` has imported and computed the demo releases (their runs opened the cases).

Everything here goes through the services the pages use, so the history and the audit log read as they
would after real use.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import AllianceLead, TrustLead
from accounts.services import Actor
from audits.models import Trust
from outliers.models import OutlierCase, TrustContact
from outliers.services import advance, case_stage

TRUST_LEAD = ("trustlead", "demo-trustlead-2026")
CONTACT_ROLES = ("lead_clinician", "chief_executive", "medical_director")


class Command(BaseCommand):
    help = "Set up the demo's outlier process: a trust lead, contacts, a case part-way (demo database only)."

    def handle(self, *args: Any, **options: Any) -> None:
        # An alarm if there is one (alarm sorts before alert), else an alert, of a worse-than-expected result;
        # at a trust of the demo alliance lead's alliance if one has such a case, so that the lead sees it too.
        cases = OutlierCase.objects.filter(status=OutlierCase.Status.OPEN, direction="worse").order_by(
            "level", "audit_id", "indicator", "organisation"
        )
        alliance = AllianceLead.objects.order_by("pk").values_list("alliance_id", flat=True).first()
        members = Trust.objects.filter(alliance_id=alliance).values("code")
        case = cases.filter(organisation__in=members).first() or cases.first()
        if case is None:
            raise CommandError("No open case of a worse result: run setup_demo first (its runs open the cases).")
        User = get_user_model()
        lead, created = User.objects.get_or_create(username=TRUST_LEAD[0], defaults={"email": "trustlead@example.org"})
        if created:
            lead.set_password(TRUST_LEAD[1])
            lead.save()
        TrustLead.objects.get_or_create(user=lead, trust_id=case.organisation, audit_id=case.audit_id)
        for role in CONTACT_ROLES:
            TrustContact.objects.get_or_create(
                trust_id=case.organisation,
                role=role,
                defaults={"name": f"Demo {role.replace('_', ' ')}", "email": f"{role}@example.org"},
            )
        team = Actor.command_line(name="demo set-up")
        stage = case_stage(case)
        if stage.owner == "audit_team":  # the audit team has checked its data and passed the case to the trust
            outcome = next(outcome for outcome, target in stage.outcomes if not target.startswith("closed:"))
            advance(case, outcome, team, note="Our data and analysis are checked; over to the trust.")
        case.refresh_from_db()
        self.stdout.write(
            f"Outlier demo: case {case.pk} ({case.audit_id} {case.indicator}, trust {case.organisation}) waits at "
            f"stage {case.stage}; sign in as {TRUST_LEAD[0]} / {TRUST_LEAD[1]} (the trust's clinical lead) to answer."
        )
