"""``{% chart_source %}``: the data- attributes a chart's container gives its PNG download (the audit's short name,
the release and its extract date), read by static/dashboards/dashboards.js for the image's footer
"Source: <audit>, release N, extract of <date>"."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from dashboards.selectors import shown_runs

register = template.Library()


@register.simple_tag(takes_context=True)
def chart_source(context: template.Context, audit_code: str | None = None, release: Any = None) -> str:
    """`` data-source=... data-release=... data-release-date=...`` of ``release``, else of the release the pages
    show for ``audit_code`` (read once per page); nothing when there is none."""
    if release is None and audit_code:
        cache = context.render_context.setdefault("chart_source_runs", {})
        if "runs" not in cache:
            cache["runs"] = shown_runs()
        run = cache["runs"].get(audit_code)
        release = run.release if run is not None else None
    if release is None:
        return ""
    return format_html(
        ' data-source="{}" data-release="{}" data-release-date="extract of {}"',
        release.audit.short_name,
        release.version,
        release.extract_date.strftime("%-d %B %Y"),
    )
