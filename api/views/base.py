"""What every view shares: ETags, caching headers and the runs an answer comes from."""

from __future__ import annotations

from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers, set_response_etag
from rest_framework import generics
from rest_framework.views import APIView

from accounts.models import AuditLogEntry
from indicators.models import ComputationRun

Via = AuditLogEntry.Via


class CachingMixin(APIView):
    """ETag on every successful GET, 304 when the client's copy is current; responses vary by caller.

    A view that serves computed results names the runs they come from in ``served_runs``: they go in the
    ``X-Computation-Run`` header (run ids, comma-separated), which CSV answers have too."""

    served_runs: list[ComputationRun] | None = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        if self.served_runs is not None:
            response["X-Computation-Run"] = ", ".join(str(run.pk) for run in self.served_runs)
        patch_cache_control(
            response, no_cache=True, **({"private": True} if request.user.is_authenticated else {"public": True})
        )
        response.render()
        set_response_etag(response)
        return get_conditional_response(request, etag=response["ETag"], response=response)


class ListView(CachingMixin, generics.ListAPIView):
    pass


class RetrieveView(CachingMixin, generics.RetrieveAPIView):
    pass
