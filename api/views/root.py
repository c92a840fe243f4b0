"""The API's root (its endpoints) and the 404 of any other address under /api/v1/."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse
from rest_framework.views import APIView

from api.views.base import CachingMixin


class ApiRoot(CachingMixin, APIView):
    """The endpoints of this API."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        names = [
            "audit-list",
            "trust-list",
            "alliance-list",
            "successor-list",
            "release-list",
            "import-list",
            "result-list",
            "token-list",
            "schema",
            "docs",
        ]
        return Response({name.removesuffix("-list"): api_reverse(f"api:{name}", request=request) for name in names})


class NotFound(APIView):
    """Any other address under /api/v1/: a 404 in the format asked for, like the API's other errors."""

    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise Http404("No such endpoint.")

    get = post = put = patch = delete = head = options = _not_found
