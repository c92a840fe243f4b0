"""The API's HTML pages (Swagger UI, ReDoc, the browsable API) under the site's Content-Security-Policy.

They run only this site's static files (script-src 'self': Swagger UI's set-up script is served from
``?script=``, not inline), but Swagger UI, ReDoc and the browsable API set styles inline, and ReDoc
starts a web worker from a blob: address. So these pages, and only these, allow inline styles and
blob: workers. ReDoc's small Redocly logo, which it loads from Redocly's site, stays blocked.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from rest_framework.renderers import BrowsableAPIRenderer as DrfBrowsableAPIRenderer

DOCS_POLICY: dict[str, Any] = {"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}
docs_csp = csp_update(DOCS_POLICY)


class BrowsableAPIRenderer(DrfBrowsableAPIRenderer):
    """DRF's browsable API, with the documentation pages' wider style-src (its template has inline styles)."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> Any:
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = DOCS_POLICY
        return super().render(data, accepted_media_type, renderer_context)
