"""Staff give trusts' leads and members, and keep trusts' contacts, in the admin site; each grant is logged."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import AuditLogEntry, TrustLead
from audits.registry import get_definition
from audits.services import sync_audit
from outliers.models import TrustContact


@pytest.mark.django_db
def test_staff_give_a_trust_lead_and_keep_contacts(client, orgs):
    sync_audit(get_definition("bowel"))
    staff = User.objects.create_user("admin-staff", is_staff=True, is_superuser=True)
    lead = User.objects.create_user("admin-lead")
    client.force_login(staff)
    response = client.post(reverse("admin:accounts_trustlead_add"), {"user": lead.pk, "trust": "RJ1", "audit": "bowel"})
    assert response.status_code == 302, response.content[:2000]
    assert TrustLead.objects.filter(user=lead, trust_id="RJ1", audit_id="bowel").exists()
    entry = AuditLogEntry.objects.get(action="role_changed", target="user admin-lead")
    assert entry.details == {"role": "trust_lead", "trust": "RJ1", "audit": "bowel", "granted": True}
    response = client.post(
        reverse("admin:outliers_trustcontact_add"),
        {"trust": "RJ1", "role": "chief_executive", "name": "A Chief", "email": "ceo@example.org"},
    )
    assert response.status_code == 302
    assert TrustContact.objects.get(trust_id="RJ1").role == "chief_executive"
    client.force_login(lead)
    assert client.get(reverse("admin:accounts_trustlead_add")).status_code == 302  # not staff: to the sign-in page
