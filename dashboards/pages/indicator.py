"""The indicator page: one piece per run, indicator, period and variant (national and alliance funnels and a
row per organisation), and its CSVs."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from django.utils.safestring import mark_safe

from dashboards import figures, text
from dashboards.pages.html import text as html_text
from dashboards.pages.html import url
from dashboards.pages.piece import SOMETIMES, CsvSchema, Piece, columns, embed, interval_columns
from dashboards.pages.run import RunContext, count_phrase, format_result, kind_of
from indicators.definitions import IndicatorDefinition
from indicators.kinds import Kind
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import FunnelFit


def indicator_key(code: str, period: str, variant: str) -> str:
    return f"indicator:{code}:{period}:{variant}"


@dataclass(kw_only=True)
class ResultRow(Piece):
    """One organisation's row of the indicator page's tables (a trust's names its alliance)."""

    organisation: str
    name: str
    alliance: str = field(default="", metadata=SOMETIMES)
    alliance_name: str = field(default="", metadata=SOMETIMES)
    numerator: str
    denominator: str
    value_text: str
    ci_text: str
    ratio_text: str
    ratio_ci_text: str
    expected_text: str
    label: str
    meaning: str
    flag: str
    compared: bool
    shown: bool
    # The reliability-adjusted estimate beside the crude one (a kind that shrinks: indicators.kinds).
    shrunken_text: str = field(default="", metadata=SOMETIMES)
    shrunken_ci_text: str = field(default="", metadata=SOMETIMES)
    reliability_text: str = field(default="", metadata=SOMETIMES)

    @classmethod
    def of(cls, row: dict[str, Any]) -> ResultRow:
        """What a page and its CSV need of a formatted result, once its HTML and figure are built."""
        return cls(**{name: row[name] for name in _ROW_FIELDS if name in row})


_ROW_FIELDS = tuple(ResultRow.__dataclass_fields__)


@dataclass(kw_only=True)
class IndicatorPiece(Piece):
    """An indicator in one period: England, the funnels of trusts and of alliances, and their tables."""

    code: str
    period: str
    national: dict[str, Any] | None  # England's result, formatted (dashboards.pages.run.format_result)
    national_counts: str
    providers: list[ResultRow]
    alliances: list[ResultRow]
    providers_html: str
    alliances_html: str
    provider_figure: str | None
    provider_summary: str
    alliance_figure: str | None
    alliance_summary: str


def indicator_csv(table: str, kind: Kind) -> CsvSchema[ResultRow]:
    """``?download=trusts`` or ``?download=alliances``: a trust's row names its alliance; the counts, value and
    intervals are the kind's columns (a risk-adjusted indicator's give observed, expected and their ratio)."""
    names: list[tuple[str, Any]] = [("code", lambda r: r.organisation), ("name", lambda r: r.name)]
    if table == "trusts":
        names.append(("cancer_alliance", lambda r: r.alliance_name))
    added: list[tuple[str, Any]] = []  # columns newer than the file's first users: after theirs, in the same order
    for name, _, attribute in kind.result_columns:  # an interval in two columns: tidy, one value a cell
        into = added if name in ADDED_COLUMNS else names
        if name.endswith("_interval"):
            into += interval_columns(name.removesuffix("_interval"), attrgetter(attribute))
        else:
            into.append((name, attrgetter(attribute)))
    names.append(("compared_with_expected", lambda r: r.label))
    return columns(*names, *added)


#: Result columns added to the downloads after their first release (the reliability-adjusted estimate of a
#: proportion, then of O/E): at the end of each row, so that a program reading the columns by position reads what it
#: always did.
ADDED_COLUMNS = frozenset(
    {
        "shrunken_value",
        "shrunken_95_interval",
        "shrunken_observed_over_expected",
        "shrunken_oe_95_interval",
        "reliability",
    }
)


# ------------------------------------------------------------------ building


def _fit_text(fit: FunnelFit | None, unit_word: str) -> str:
    if fit is None:
        return ""
    if fit.overdispersion_applied:
        return (
            f"The limits are widened for overdispersion ({fit.overdispersion} random-effects method, "
            f"φ = {fit.phi:.2f}, τ² = {fit.tau2:.3g}): {unit_word}s vary more than chance alone would explain, "
            f"so the limits allow for it (Spiegelhalter 2005)."
        )
    if fit.phi is not None:
        return (
            f"No overdispersion adjustment was applied (φ = {fit.phi:.2f}): the {unit_word}s vary "
            f"no more than chance would explain."
        )
    return ""


def funnel(
    context: RunContext,
    code: str,
    period: str,
    level: str,
    rows: list[dict[str, Any]],
    national: dict[str, Any] | None,
    variant: str,
) -> tuple[dict[str, Any] | None, str]:
    """A funnel's figure specification and its text summary, from formatted (published) rows.

    The summary counts the units the reader is shown: a hidden unit is neither drawn nor counted
    among the flags or the alerts chance alone would give."""
    definition = context.definitions[code]
    fit = context.fits.get((code, level, period))
    unit_word = "trust" if level == PROVIDER else "Cancer Alliance"
    if level == PROVIDER and definition.reporting.comparison_level == ALLIANCE:
        return None, text.COMPARED_BY_ALLIANCE
    if fit is None or national is None or fit.target is None:
        return None, f"Too few {unit_word}s have enough patients to draw a funnel plot for {period}."
    kind = kind_of(definition)
    # Flags were decided on the statistic (O/E for a ratio) against the fit's target; a point is drawn on the
    # value's scale (O/E x England's crude rate), so the limits are drawn on the same scale (O/E limits x the
    # rate), never x England's own O/E x rate: otherwise a point labelled within range can be drawn beyond a line,
    # or a flagged one inside the lines. A proportion's scale is 1.
    scale = kind.adjusted_rate(1.0, national.get("rate") or national["plotted"])
    points = []
    hidden = sum(1 for row in rows if row["suppressed"])
    for row in rows:
        if not row["compared"] or not row["shown"] or row["x"] is None:
            continue
        count_words = (
            f"Observed {row['numerator']}, expected {row['expected_text']}, of {row['denominator']} patients"
            if kind.has_expected
            else f"{row['numerator']} of {row['denominator']} patients"
        )
        points.append(
            {
                "x": row["x"],
                "y": row["plotted"],
                "meaning": row["meaning"],
                "customdata": [
                    row["organisation"],
                    row["name"],
                    row["value_text"] + (f" (observed/expected {row['ratio_text']})" if kind.has_expected else ""),
                    row["ci_text"],
                    count_words,
                    row["label"],
                ],
            }
        )
    spec = figures.funnel_figure(
        points=points,
        kind=fit.kind,
        method=fit.method,
        target=fit.target,
        tau2=fit.tau2 or 0.0,
        phi=fit.phi or 1.0,
        overdispersion=fit.overdispersion if fit.overdispersion_applied else "none",
        scale=scale,
        x_title=kind.x_title,
        y_title=kind.value_title,
        standard=(definition.standard or {}).get("value"),
        standard_label=(definition.standard or {}).get("label", ""),
    )
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["compared"]:
            counts[row["flag"]] += 1
    compared = sum(1 for row in rows if row["compared"])
    summary = (
        f"Funnel plot of {compared} {unit_word}s, {period}: England {national['value_text']}. "
        + text.flag_counts_sentence(counts=counts, units=compared, unit_word=unit_word)
        + " "
        + _fit_text(fit, unit_word)
    )
    if hidden:
        summary += (
            f" {hidden} {unit_word}{'s are' if hidden != 1 else ' is'} not shown because of small numbers "
            f"(small-number suppression), and not counted here."
        )
    if variant == "public":
        summary += (
            " Points are drawn from counts rounded to the nearest 5; flags are decided on the exact counts, "
            "so a point very close to a limit may sit just on the other side of it."
        )
    return spec, summary.strip()


def rows_html(rows: list[dict[str, Any]], level: str) -> str:
    """The rows of an indicator page's table of trusts (``level`` provider) or of alliances, rendered once per run:
    a row links to the organisation's page, carries ``data-code`` (the page highlights rows by it) and a trust's
    ``data-alliance``, and its cells are its kind's columns (``row["cells"]``). Every value is escaped.

    Built here rather than by a template: a page build renders the rows of every indicator, period and variant,
    and a template's per-variable cost was a third of that build."""
    trusts = level == PROVIDER
    page = "trust" if trusts else "alliance"
    html = []
    for row in rows:
        code = html_text(row["organisation"])
        alliance = f' data-alliance="{html_text(row["alliance"])}"' if row.get("alliance") else ""
        href = url(page, row["organisation"])
        alliance_cell = f'  <td class="small">{html_text(row.get("alliance_name", ""))}</td>\n' if trusts else ""
        cells = "".join(f'<td class="num">{html_text(cell)}</td>' for cell in row["cells"])
        html.append(
            f'<tr data-code="{code}"{alliance}>\n'
            f'  <th scope="row"><a href="{href}">{html_text(row["name"])}</a> '
            f'<span class="muted small">{code}</span></th>\n'
            f"{alliance_cell}  {cells}\n"
            f'  <td><span class="flag flag-{html_text(row["meaning"])}">{html_text(row["label"])}</span></td>\n</tr>\n'
        )
    return mark_safe("".join(html))  # noqa: S308 - every value above is escaped


def build_indicator(context: RunContext, code: str, period: str, variant: str) -> IndicatorPiece:
    """The indicator page for one period: national and alliance funnels and a row per organisation."""
    national = context.result(variant, code, NATIONAL, period, ENGLAND_CODE)
    providers = list(context.level(variant, code, PROVIDER, period).values())
    for row in providers:
        trust = context.trusts.get(row["organisation"], {})
        row["name"] = trust.get("name", row["organisation"])
        row["alliance"] = trust.get("alliance_id", "")
        row["alliance_name"] = context.alliances.get(row["alliance"], "")
    providers.sort(key=lambda r: (r["name"].lower(), r["organisation"]))  # by name: not a league table
    alliances = list(context.level(variant, code, ALLIANCE, period).values())
    for row in alliances:
        row["name"] = context.alliances.get(row["organisation"], row["organisation"])
    alliances.sort(key=lambda r: r["name"].lower())
    provider_figure, provider_summary = funnel(context, code, period, PROVIDER, providers, national, variant)
    alliance_figure, alliance_summary = funnel(context, code, period, ALLIANCE, alliances, national, variant)
    kind = kind_of(context.definitions[code])
    shown = [field for _, title, field in kind.result_columns if title]  # the kind's columns on the page
    for row in (*providers, *alliances):
        row["cells"] = [row[name] for name in shown]
    return IndicatorPiece(
        code=code,
        period=period,
        national=national,
        national_counts=count_phrase(national, context.definitions[code]) if national else "",
        providers=[ResultRow.of(r) for r in providers],
        alliances=[ResultRow.of(r) for r in alliances],
        providers_html=rows_html(providers, PROVIDER),
        alliances_html=rows_html(alliances, ALLIANCE),
        provider_figure=embed(provider_figure),
        provider_summary=provider_summary,
        alliance_figure=embed(alliance_figure),
        alliance_summary=alliance_summary,
    )


def with_own_rows(piece: IndicatorPiece, rows: list[dict[str, Any]], definition: IndicatorDefinition) -> IndicatorPiece:
    """A copy of a public piece with some trusts' rows replaced by ``rows`` (published for a trust's own team:
    :func:`indicators.disclosure.publish_results` with ``exact_trusts``), its trusts' table rendered again.

    Only those rows change: the funnels, their summaries, the alliances' table and England stay as the public
    sees them (the funnel draws the trust where the public sees it)."""
    kind = kind_of(definition)
    shown = [field for _, title, field in kind.result_columns if title]
    exact = {row["organisation"]: format_result(row, definition) for row in rows}
    providers: list[dict[str, Any]] = []
    for row in piece.providers:
        data = {name: getattr(row, name) for name in _ROW_FIELDS}
        if row.organisation in exact:
            data.update((name, value) for name, value in exact[row.organisation].items() if name in _ROW_FIELDS)
            data["cells"] = [exact[row.organisation][name] for name in shown]
        else:
            data["cells"] = [data[name] for name in shown]
        providers.append(data)
    return dataclasses.replace(
        piece,
        providers=[ResultRow.of(r) for r in providers],
        providers_html=rows_html(providers, PROVIDER),
    )


# ------------------------------------------------------------------ the page


@dataclass
class IndicatorPage:
    """What the indicator page shows: the indicator (the audit piece's entry), its piece at ``period`` and its
    model card; without results (no period), why not."""

    run: Any
    item: Any  # dashboards.pages.audit.AuditIndicator
    variant: str
    period: str | None
    piece: IndicatorPiece | None
    card: Any  # dashboards.pages.model_card.ModelCard | UnfittedCard | None
    # From the definition file as deployed (not the run's piece): a review's status can change without a recompute.
    under_review: bool = False
    review_note: str = ""

    def rows(self, table: str) -> list[ResultRow]:
        assert self.piece is not None
        return self.piece.providers if table == "trusts" else self.piece.alliances

    def context(self, highlight: str) -> dict[str, Any]:
        """The template's context, with the organisation ``highlight`` (a trust's code or an alliance's) picked
        out: its name, its rows, and which of them the funnels can ring."""
        assert self.piece is not None and self.period is not None
        data, item = self.piece, self.item
        highlight_name = ""
        if highlight:
            for row in data.providers:
                if row.organisation == highlight:
                    highlight_name = row.name
            for row in data.alliances:
                if row.organisation == highlight:
                    highlight_name = row.name
        highlighted = [r for r in data.providers if highlight and highlight in (r.organisation, r.alliance)]
        # Only a plotted trust can be ringed: one not shown (small numbers) or not compared is not drawn.
        ringed = [r for r in highlighted if r.shown and r.compared]
        # A highlighted trust also rings its alliance on the alliance-level funnel.
        highlight_alliance = next((r.alliance for r in highlighted if r.organisation == highlight), highlight)
        return {
            "item": item,
            "data": data,
            "card": self.card,
            "period": self.period,
            "run": self.run,
            "highlight": highlight,
            "highlight_name": highlight_name,
            "highlighted": highlighted,
            "ringed": ringed,
            "highlight_alliance": highlight_alliance,
            "is_analyst": self.variant == "analyst",
            "under_review": self.under_review,
            "review_note": self.review_note,
            "legend": text.MEANING_LEGEND,
            "period_text": text.period_words(self.period),
            "periods": [
                {"period": p, "text": text.period_words(p), "current": p == self.period, "headline": p == item.headline}
                for p in item.periods
            ],
        }
