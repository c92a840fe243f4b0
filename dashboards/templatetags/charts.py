"""``{% chart_source %}``: the data- attributes a chart's container gives its PNG download (the audit's short name,
the release and its extract date), read by static/dashboards/dashboards.js for the image's footer
"Source: <audit>, release N, extract of <date>". It reads only what the view gave the page: no query."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def chart_source(context: template.Context, short_name: str, release: Any = None, audit_code: str = "") -> str:
    """`` data-source=... data-release=... data-release-date=...`` of ``release``, else of the view's
    ``chart_releases`` entry for ``audit_code`` (the release the pages show for it); the source alone without."""
    if release is None and audit_code:
        release = (context.get("chart_releases") or {}).get(audit_code)
    if release is None:
        return format_html(' data-source="{}"', short_name)
    return format_html(
        ' data-source="{}" data-release="{}" data-release-date="extract of {}"',
        short_name,
        release.version,
        release.extract_date.strftime("%-d %B %Y"),
    )
