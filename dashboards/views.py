"""Public pages."""
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audits.models import Release
from audits.permissions import analyst_audits
from audits.registry import all_definitions


def home(request: HttpRequest) -> HttpResponse:
    definitions = all_definitions()
    current = {}
    for release in Release.objects.accepted().order_by("audit_id", "-version"):
        current.setdefault(release.audit_id, release)
    mine = analyst_audits(request.user)
    audits = [{"definition": d, "release": current.get(code), "is_analyst": request.user.is_staff or code in mine}
              for code, d in sorted(definitions.items(), key=lambda item: item[1].name)]
    return render(request, "dashboards/home.html", {"audits": audits})
