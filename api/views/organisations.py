"""Cancer Alliances, trusts and predecessor trust codes."""

from __future__ import annotations

from api.filters import TrustFilter
from api.serializers.organisations import AllianceSerializer, SuccessorSerializer, TrustSerializer
from api.views.base import ListView, RetrieveView
from audits.models import Alliance, Trust, TrustSuccessor


class AllianceList(ListView):
    """The 21 Cancer Alliances."""

    serializer_class = AllianceSerializer
    queryset = Alliance.objects.order_by("code")
    csv_filename = "alliances"


class AllianceDetail(RetrieveView):
    serializer_class = AllianceSerializer
    queryset = Alliance.objects.all()
    lookup_url_kwarg = "code"


class TrustList(ListView):
    """NHS trusts, each in one Cancer Alliance (inactive: no longer in the seed file, kept for old results)."""

    serializer_class = TrustSerializer
    queryset = Trust.objects.select_related("alliance").order_by("code")
    filterset_class = TrustFilter
    csv_filename = "trusts"


class TrustDetail(RetrieveView):
    serializer_class = TrustSerializer
    queryset = Trust.objects.select_related("alliance")
    lookup_url_kwarg = "code"


class SuccessorList(ListView):
    """Predecessor trust codes and the trust whose results include them from a date."""

    serializer_class = SuccessorSerializer
    queryset = TrustSuccessor.objects.order_by("predecessor_code")
    csv_filename = "successors"
