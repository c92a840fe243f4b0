"""The alliance page: one piece per run, alliance and variant (its trusts x indicators grid and the alliance
against England), the alliance-level funnels shared by every alliance page, and their CSVs."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from dashboards import text
from dashboards.pages.indicator import IndicatorPiece, indicator_key
from dashboards.pages.piece import CsvSchema, Piece, columns, interval_columns
from dashboards.pages.run import RunContext, count_phrase, result_sentence
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER


def alliance_key(code: str, variant: str) -> str:
    return f"alliance:{code}:{variant}"


def alliance_funnels_key(variant: str) -> str:
    return f"alliance-funnels:{variant}"


@dataclass(kw_only=True)
class HeadlineIndicator(Piece):
    """An indicator with results, at the period its pages lead with."""

    code: str
    title: str
    period: str


@dataclass(kw_only=True)
class AllianceRow(HeadlineIndicator):
    """The alliance against England on one indicator."""

    value_text: str
    ci_text: str
    ratio_text: str
    counts: str
    england_text: str
    label: str
    meaning: str
    flag: str
    sentence: str


@dataclass(kw_only=True)
class GridCell(Piece):
    """One trust's result on one indicator, in the alliance's grid."""

    value_text: str
    short_label: str
    label: str
    meaning: str
    flag: str


@dataclass(kw_only=True)
class GridRow(Piece):
    """A member trust's row of the grid: a cell per indicator (None: no result)."""

    code: str
    name: str
    cells: list[GridCell | None]


@dataclass(kw_only=True)
class AlliancePiece(Piece):
    """An alliance's tables for one audit, rendered once."""

    audit: str
    audit_name: str
    short_name: str
    indicators: list[HeadlineIndicator]
    rows: list[AllianceRow]
    grid: list[GridRow]
    html: str = ""

    @property
    def chance(self) -> str:
        """How many of the grid's flags chance alone would give: every cell compared is a comparison."""
        compared = sum(1 for row in self.grid for cell in row.cells if cell and cell.meaning != "not_compared")
        if compared < 2:
            return ""
        return f"This table makes {compared} comparisons. " + text.chance_flags_sentence(compared, "trust")


@dataclass(kw_only=True)
class AllianceFunnel(Piece):
    """The funnel of the 21 alliances on one indicator, at its headline period."""

    figure: str | None
    summary: str
    title: str
    period: str


#: ``?download=<audit>:england`` of the alliance page.
ENGLAND_CSV: CsvSchema[AllianceRow] = columns(
    ("indicator", lambda r: r.title),
    ("period", lambda r: r.period),
    ("alliance", lambda r: r.value_text),
    *interval_columns("alliance_95", lambda r: r.ci_text),
    ("england", lambda r: r.england_text),
    ("compared_with_expected", lambda r: r.label),
)


#: ``?download=<audit>:grid``: tidy, one trust and indicator a row (:func:`grid_cells`), value and flag apart.
GRID_CSV: CsvSchema[tuple[GridRow, HeadlineIndicator, GridCell]] = columns(
    ("trust_code", lambda t: t[0].code),
    ("trust", lambda t: t[0].name),
    ("indicator_code", lambda t: t[1].code),
    ("indicator", lambda t: t[1].title),
    ("period", lambda t: t[1].period),
    ("value", lambda t: t[2].value_text),
    ("compared_with_expected", lambda t: t[2].label),
)


def grid_cells(piece: AlliancePiece) -> list[tuple[GridRow, HeadlineIndicator, GridCell]]:
    """The grid's cells with a result, trust by trust in the grid's order, for :data:`GRID_CSV`."""
    return [
        (row, item, cell)
        for row in piece.grid
        for item, cell in zip(piece.indicators, row.cells, strict=True)
        if cell is not None
    ]


@dataclass(frozen=True)
class AllianceSection:
    """One audit's piece and funnels on the page, and whether this reader sees it exactly."""

    piece: AlliancePiece
    funnels: dict[str, AllianceFunnel]
    analyst: bool

    @property
    def first(self) -> str | None:
        """The indicator whose funnel the page shows first."""
        return next((code for code, funnel in self.funnels.items() if funnel.figure), None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.piece, name)


# ------------------------------------------------------------------ building


def build_alliances(
    context: RunContext, variant: str, built: dict[str, Any]
) -> dict[str, AlliancePiece | dict[str, AllianceFunnel]]:
    """One piece per alliance (its trusts x indicators grid, and the alliance against England), plus the
    alliance-level funnels, shared by every alliance page."""
    indicators, funnels = [], {}
    for code, definition in context.definitions.items():
        period = context.headline(code)
        if period is None:
            continue
        indicators.append(HeadlineIndicator(code=code, title=definition.title, period=period))
        page: IndicatorPiece = built[indicator_key(code, period, variant)]
        funnels[code] = AllianceFunnel(
            figure=page.alliance_figure, summary=page.alliance_summary, title=definition.title, period=period
        )
    levels = {
        item.code: (
            context.level(variant, item.code, ALLIANCE, item.period),
            context.level(variant, item.code, PROVIDER, item.period),
            context.result(variant, item.code, NATIONAL, item.period, ENGLAND_CODE),
        )
        for item in indicators
    }
    members: dict[str, list[dict[str, str]]] = defaultdict(list)
    for trust in context.trusts.values():
        members[trust["alliance_id"]].append(trust)
    pieces: dict[str, AlliancePiece | dict[str, AllianceFunnel]] = {alliance_funnels_key(variant): funnels}
    for alliance_code in context.alliances:
        rows = []
        for item in indicators:
            definition = context.definitions[item.code]
            alliance_results, _, national = levels[item.code]
            result = alliance_results.get(alliance_code)
            if result is None:
                continue
            england_text = national["value_text"] if national else "-"
            rows.append(
                AllianceRow(
                    code=item.code,
                    title=item.title,
                    period=item.period,
                    value_text=result["value_text"],
                    ci_text=result["ci_text"],
                    ratio_text=result["ratio_text"],
                    counts=count_phrase(result, definition),
                    england_text=england_text,
                    label=result["label"],
                    meaning=result["meaning"],
                    flag=result["flag"],
                    sentence=result_sentence("this alliance", result, england_text, definition),
                )
            )
        grid = []
        for trust in sorted(members.get(alliance_code, []), key=lambda t: t["name"].lower()):
            cells = []
            for item in indicators:
                result = levels[item.code][1].get(trust["code"])
                cells.append(
                    None
                    if result is None
                    else GridCell(
                        value_text=result["value_text"],
                        short_label=result["short_label"],
                        label=result["label"],
                        meaning=result["meaning"],
                        flag=result["flag"],
                    )
                )
            if any(cells):
                grid.append(GridRow(code=trust["code"], name=trust["name"], cells=cells))
        if not rows and not grid:
            continue
        piece = AlliancePiece(
            audit=context.audit_code,
            audit_name=context.audit_name,
            short_name=context.short_name,
            indicators=indicators,
            rows=rows,
            grid=grid,
        )
        piece.html = render_to_string(
            "dashboards/_alliance_tables.html",
            {"section": piece, "alliance_code": alliance_code, "alliance_name": context.alliances[alliance_code]},
        )
        pieces[alliance_key(alliance_code, variant)] = piece
    return pieces


def _cell(result: dict[str, Any] | None) -> GridCell | None:
    if result is None:
        return None
    return GridCell(
        value_text=result["value_text"],
        short_label=result["short_label"],
        label=result["label"],
        meaning=result["meaning"],
        flag=result["flag"],
    )


def with_own_rows(
    piece: AlliancePiece, exact: dict[str, dict[str, dict[str, Any]]], alliance_code: str, alliance_name: str
) -> AlliancePiece:
    """A copy of a public piece whose grid rows of some trusts are their exact results (``{trust: {indicator:
    formatted result}}``, published for the trust's own team), its HTML rendered again. The alliance's own rows
    (against England) stay as the public sees them."""
    grid = [
        GridRow(
            code=row.code,
            name=row.name,
            cells=[_cell(exact[row.code].get(item.code)) for item in piece.indicators],
        )
        if row.code in exact
        else row
        for row in piece.grid
    ]
    copy = dataclasses.replace(piece, grid=grid)
    copy.html = render_to_string(
        "dashboards/_alliance_tables.html",
        {"section": copy, "alliance_code": alliance_code, "alliance_name": alliance_name},
    )
    return copy
