"""The HTML of a trust's section for one audit: the table of its indicators with the spread and trend charts drawn
inline (SVG, no script needed), built once per run, trust and variant and included by the trust page as it is.

Built here rather than by a template: a page build renders a section for every trust in three variants, and a
template's per-variable cost was most of that build. Every value is escaped and links are reversed once
(:mod:`dashboards.pages.html`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.safestring import SafeString, mark_safe

from dashboards.pages.html import text as _e
from dashboards.pages.html import url as _url

if TYPE_CHECKING:
    from dashboards.pages.trust import TrustCard, TrustPiece

_KEY = """<ul class="key" aria-label="Key to the spread charts">
  <li><svg width="28" height="12" aria-hidden="true"><line x1="2" x2="26" y1="6" y2="6" stroke="#aeb7bd" stroke-width="4"/></svg>range of trusts</li>
  <li><svg width="20" height="12" aria-hidden="true"><rect x="2" y="1" width="16" height="10" fill="#c8d1d6"/></svg>middle half of trusts</li>
  <li><svg width="10" height="16" aria-hidden="true"><line x1="5" x2="5" y1="0" y2="16" stroke="#212b32" stroke-width="2"/></svg>England</li>
  <li><svg width="10" height="16" aria-hidden="true"><line x1="5" x2="5" y1="0" y2="16" stroke="#4c6272" stroke-width="2" stroke-dasharray="3 2"/></svg>alliance</li>
  <li><svg width="14" height="14" aria-hidden="true"><path d="M2,7 a5,5 0 1,0 10,0 a5,5 0 1,0 -10,0 Z" fill="#768692" stroke="#212b32"/></svg>this trust, with its 95% interval; better to the right</li>
</ul>
"""  # noqa: E501 - SVG, kept on one line per item as the page serves it

_HEAD = """  <thead><tr>
    <th scope="col">Indicator</th><th scope="col" class="num">This trust</th><th scope="col" class="num">Alliance</th><th scope="col" class="num">England</th>
    <th scope="col">Spread across trusts</th><th scope="col">Compared with expected</th><th scope="col">Trend</th>
  </tr></thead>
"""  # noqa: E501

_WHO = {
    "analyst": " Exact counts: you are an analyst of this audit.",
    "own": (
        " This trust's own counts are exact: you are on its team for this audit. The alliance, England and the "
        "spread across trusts are as everyone sees them."
    ),
}


def section_html(section: TrustPiece, *, trust_code: str, trust_name: str, variant: str) -> SafeString:
    """The trust page's section of one audit (``section``) for one variant ("public", "analyst" or "own")."""
    audit, short = _e(section.audit), _e(section.short_name)
    code, name = _e(trust_code), _e(trust_name)
    rows = "".join(_card(card, section.audit, trust_code) for card in section.cards)
    unavailable = ""
    if section.unavailable:
        items = "".join(
            f'<li><a href="{_url("indicator", section.audit, u.code)}">{_e(u.title)}</a>: {_e(u.reason)}</li>'
            for u in section.unavailable
        )
        unavailable = f'<div class="panel"><p>Not available in this release:</p><ul>{items}</ul></div>'
    return mark_safe(  # noqa: S308 - every value is escaped
        f'<section aria-labelledby="audit-{audit}">\n'
        f'<h2 id="audit-{audit}">{_e(section.audit_name)} ({short})</h2>\n'
        f'<p class="page-meta">Release {_e(section.release)}, extract of {_e(section.extract_date)}.'
        f"{_WHO.get(variant, '')}</p>\n"
        f"{_KEY}"
        f'<div class="table-scroll" role="region" tabindex="0" aria-label="{short} indicators for {name}">\n'
        f'<table class="overview" id="overview-{audit}" data-chart-title="{name}: {short}" data-source="{short}" '
        f'data-release="{_e(section.release)}" data-release-date="extract of {_e(section.extract_date)}">\n'
        f"  <caption>Every {short} indicator for {name} in the audit's order, with England and the alliance beside "
        f"it</caption>\n"
        f"{_HEAD}  <tbody>\n{rows}  </tbody>\n</table>\n</div>\n"
        f"{unavailable}\n"
        f'<div class="actions no-print">\n'
        f'  <a class="button button-secondary" href="?download={audit}" download>Download this table (CSV)</a>\n'
        f'  <button type="button" class="button button-secondary" data-png="overview-{audit}" '
        f'data-filename="{code}-{audit}-spread">Download the spread chart (PNG)</button>\n'
        f"</div>\n</section>\n"
    )


def _card(card: TrustCard, audit: str, trust_code: str) -> str:
    hint = _e(card.period)
    if card.kind.adjective:
        hint += f" · {_e(card.kind.adjective)}"
    if card.standard:
        hint += f" · {_e(card.standard)}"
    ci = f"95% CI {_e(card.ci_text)}" if card.shown else ""
    check = ""
    if card.compared and card.flag != "none":
        check = (
            f' <a class="flag-check" href="{_url("trust-flag-check", trust_code, audit, card.code)}">Is this flag real?'
            f'<span class="visually-hidden"> {_e(card.title)}</span></a>'
        )
    return (
        f'    <tr class="row-{_e(card.meaning)}">\n'
        f'      <th scope="row">\n'
        f'        <a class="indicator-name" href="{_url("indicator", audit, card.code)}?highlight={_e(trust_code)}">'
        f"{_e(card.title)}</a>\n"
        f'        <span class="hint">{hint}</span>\n'
        f'        <p class="sentence">{_e(card.sentence)}</p>\n'
        f"      </th>\n"
        f'      <td class="num trust-cell" data-label="This trust"><span class="value">{_e(card.value_text)}</span>'
        f'<span class="ci">{ci}</span><span class="ci">{_e(card.counts)}</span></td>\n'
        f'      <td class="num" data-label="Alliance">{_e(card.alliance_text)}</td>\n'
        f'      <td class="num" data-label="England">{_e(card.england_text)}</td>\n'
        f'      <td class="spine-cell" data-label="Spread across trusts">{_spine(card)}\n      </td>\n'
        f'      <td class="flag-cell" data-label="Compared with expected"><span class="flag flag-{_e(card.meaning)}">'
        f"{_e(card.label)}</span>{check}</td>\n"
        f'      <td class="trend-cell" data-label="Trend">{_spark(card, audit, trust_code)}\n      </td>\n'
        f"    </tr>\n"
    )


def _spine(card: TrustCard) -> str:
    s = card.spine
    if not s:
        return '<span class="muted">Not enough trusts</span>'
    marks = []
    if s.get("alliance") is not None:
        a = _e(s["alliance"])
        marks.append(
            f'<line x1="{a}" x2="{a}" y1="2" y2="22" stroke="#4c6272" stroke-width="2" stroke-dasharray="3 2"/>'
        )
    if s.get("england") is not None:
        e = _e(s["england"])
        marks.append(f'<line x1="{e}" x2="{e}" y1="1" y2="23" stroke="#212b32" stroke-width="2"/>')
    if s.get("ci_low") is not None:
        marks.append(
            f'<line x1="{_e(s["ci_low"])}" x2="{_e(s["ci_high"])}" y1="12" y2="12" stroke="#212b32" '
            f'stroke-width="1.5"/>'
        )
    if s.get("marker"):
        marks.append(f'<path d="{_e(s["marker"])}" fill="{_e(card.colour)}" stroke="#212b32" stroke-width="1"/>')
    label = f"{_e(card.spine_text)} This trust {_e(card.value_text)}; England {_e(card.england_text)}."
    return (
        f'\n        <svg class="spine" viewBox="0 0 240 36" width="240" height="36" role="img" aria-label="{label}">\n'
        f'          <text x="1" y="35" font-size="11" font-family="Arial" fill="#4c6272">{_e(s["left"])}</text>'
        f'<text x="239" y="35" font-size="11" font-family="Arial" fill="#4c6272" text-anchor="end">'
        f"{_e(s['right'])}</text>\n"
        f'          <line x1="{_e(s["min"])}" x2="{_e(s["max"])}" y1="12" y2="12" stroke="#aeb7bd" stroke-width="4"/>\n'
        f'          <rect x="{_e(s["q1"])}" y="6" width="{_e(s["box_width"])}" height="12" fill="#c8d1d6"/>\n'
        f"          {''.join(marks)}\n"
        f"        </svg>"
    )


def _spark(card: TrustCard, audit: str, trust_code: str) -> str:
    if card.spark:
        spark = card.spark
        line = '<polyline points="{}" fill="none" stroke="#005eb8" stroke-width="1.8"/>'
        paths = "".join(line.format(_e(path)) for path in spark["paths"])
        dots = "".join(f'<circle cx="{_e(x)}" cy="{_e(y)}" r="2" fill="#005eb8"/>' for x, y, *_ in spark["dots"])
        last = ""
        if spark.get("last"):
            last = f'<circle cx="{_e(spark["last"][0])}" cy="{_e(spark["last"][1])}" r="3" fill="#005eb8"/>'
        return (
            f'<a href="{_url("trust-trend", trust_code, audit, card.code)}">\n'
            f'        <svg class="spark" viewBox="0 0 120 32" width="120" height="32" role="img" '
            f'aria-label="Trend by quarter: {_e(card.spark_text)}">\n'
            f"          {paths}\n          {dots}\n          {last}\n        </svg></a>"
        )
    if card.has_trend:
        return f'<a href="{_url("trust-trend", trust_code, audit, card.code)}">By quarter</a>'
    return '<span class="muted">-</span>'
