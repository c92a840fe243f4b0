"""``make demo``'s outlier step: a trust's lead can walk a case that waits for the trust."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts import roles
from accounts.models import TrustLead
from outliers.models import OutlierCase, TrustContact

pytestmark = pytest.mark.django_db


def test_the_demo_gives_a_trust_lead_a_case_waiting_for_the_trust(computed):
    call_command("demo_outliers", stdout=io.StringIO())
    lead = TrustLead.objects.select_related("user").get(user__username="trustlead")
    case = OutlierCase.objects.get(
        organisation=lead.trust_id,
        audit_id=lead.audit_id,
        direction="worse",
        status=OutlierCase.Status.OPEN,
        stage__in=["trust_review", "local_review"],
    )
    assert lead.user.check_password("demo-trustlead-2026")
    assert roles.is_trust_lead(lead.user, case.organisation, case.audit_id)
    assert case.events.filter(to_stage=case.stage).count() == 1
    assert set(TrustContact.objects.filter(trust_id=case.organisation).values_list("role", flat=True)) == {
        "lead_clinician",
        "chief_executive",
        "medical_director",
    }
    call_command("demo_outliers", stdout=io.StringIO())  # again: nothing more happens
    case.refresh_from_db()
    assert case.stage in ("trust_review", "local_review") and TrustLead.objects.count() == 1


def test_without_an_open_case_it_says_what_to_run_first(computed):
    OutlierCase.objects.update(status=OutlierCase.Status.VOID)  # rolled back after the test
    with pytest.raises(CommandError, match="setup_demo"):
        call_command("demo_outliers")
