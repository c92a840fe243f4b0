"""Page-number pagination with the links also in a Link header (for CSV, which has no envelope)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

ANONYMOUS_MAX_PAGE_SIZE = 1_000


class Pagination(PageNumberPagination):
    """``?page_size=`` up to 10,000 rows for signed-in callers and tokens, 1,000 for anonymous ones
    (a larger value is lowered to the cap): a page costs time to build and memory to cache."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 10_000

    def get_page_size(self, request) -> int | None:
        size = super().get_page_size(request)
        if size is not None and not request.user.is_authenticated:
            return min(size, ANONYMOUS_MAX_PAGE_SIZE)
        return size

    def paginate_queryset(self, queryset, request, view=None):
        filterset_class = getattr(view, "filterset_class", None)
        self.known_params = {self.page_query_param, self.page_size_query_param, "format"} | set(
            filterset_class.base_filters if filterset_class else ()
        )
        self.effective_page_size = self.get_page_size(request)
        return super().paginate_queryset(queryset, request, view)

    def get_next_link(self) -> str | None:
        return self._known_only(super().get_next_link())

    def get_previous_link(self) -> str | None:
        return self._known_only(super().get_previous_link())

    def _known_only(self, url: str | None) -> str | None:
        """The link without query parameters the endpoint does not read (a page may be cached and shared),
        and with the page size actually used."""
        if url is None:
            return None
        parts = urlsplit(url)
        query = [
            (k, str(self.effective_page_size) if k == self.page_size_query_param else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k in self.known_params
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def get_paginated_response(self, data) -> Response:
        assert self.page is not None  # paginate_queryset ran first
        count = self.page.paginator.count
        response = Response(
            {
                "count": count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.get_next_link()), ("prev", self.get_previous_link()))
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        response["X-Total-Count"] = str(count)
        return response


class ResultPagination(Pagination):
    """Pages of results that also name the computation runs they come from (``runs``): the runs the query
    reads, each with its audit, release and when it completed (``api.serializers.results.ServedRunSerializer``)."""

    def get_paginated_response(self, data, runs=None) -> Response:
        response = super().get_paginated_response(data)
        envelope = {key: value for key, value in response.data.items() if key != "results"}
        response.data = {**envelope, "runs": runs or [], "results": response.data["results"]}
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        properties = {key: value for key, value in paginated["properties"].items() if key != "results"}
        properties["runs"] = {
            "type": "array",
            "description": "The computation runs these results come from (one per audit)",
            "items": {
                "type": "object",
                "required": ["id", "audit", "release", "release_version", "method_version", "completed_at"],
                "properties": {
                    "id": {"type": "integer"},
                    "audit": {"type": "string"},
                    "release": {"type": "integer"},
                    "release_version": {"type": "integer"},
                    "method_version": {"type": "string"},
                    "completed_at": {"type": "string", "format": "date-time", "nullable": True},
                },
            },
        }
        properties["results"] = paginated["properties"]["results"]
        return {**paginated, "properties": properties, "required": [*paginated.get("required", []), "runs"]}
