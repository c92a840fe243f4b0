"""CSV for every list: the rows the serializer produced, one column per field, in the serializer's order.

Paginated responses render their ``results`` (the page links are in the Link header). A view
whose rows sit under another key (e.g. an XmR chart's ``points``) names it in
``csv_rows_key``. Nested objects become ``parent.child`` columns; lists are written as JSON.
Written by the one CSV writer (``audits.csvfile``): text a spreadsheet would run as a formula gets an apostrophe.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import BaseRenderer

from audits.csvfile import csv_text


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(value, default=str)
    return value


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        context = renderer_context or {}
        view, response = context.get("view"), context.get("response")
        rows = self._rows(data, view, response)
        header: list[str] = []
        flat_rows = [_flatten(r) if isinstance(r, dict) else {"value": r} for r in rows]
        for row in flat_rows:
            header.extend(k for k in row if k not in header)
        if not header:
            header = self._serializer_fields(view)
        text = csv_text(header, ([_cell(row.get(name)) for name in header] for row in flat_rows))
        if response is not None and view is not None and response.status_code < 400:
            name = getattr(view, "csv_filename", None) or view.__class__.__name__.removesuffix("View").lower()
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return text.encode(self.charset)

    @staticmethod
    def _rows(data, view, response) -> list[Any]:
        if data is None:
            return []
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            if response is not None and response.status_code >= 400:
                return [{"status": response.status_code, **{k: v for k, v in data.items()}}]
            if isinstance(data.get("results"), list):
                return data["results"]
            key = getattr(view, "csv_rows_key", None)
            if key and isinstance(data.get(key), list):
                return data[key]
        return [data]

    @staticmethod
    def _serializer_fields(view) -> list[str]:
        try:
            return list(view.get_serializer().fields)
        except Exception:  # a view without a serializer: an empty file with no header
            return []
