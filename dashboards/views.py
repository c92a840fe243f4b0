"""Dashboard pages: short views that pick the prebuilt pieces of the shown runs and render them.

No view computes a statistic: results, flags and limits come from the
computation runs, and the numbers, sentences and figure specifications from
the pieces built once per run (dashboards/services.py). Every table can be
downloaded as CSV with ``?download=<table>``, with the same suppression as the
page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify

from audits import roles
from audits.csvfile import csv_text
from audits.models import Alliance, ImportJob, Release, Trust
from audits.registry import all_definitions
from audits.selectors import quality_by_trust
from dashboards import figures, selectors, services
from dashboards.text import (
    MEANING_LEGEND,
    completeness_sentence,
    flag_counts_sentence,
    interval,
    label_of,
    meaning_of,
    percent,
    ratio,
)
from indicators.definitions import columns_used
from indicators.disclosure import publish_quality_by_trust
from indicators.funnel_tool import METHODS, OVERDISPERSION, AggregateError, analyse, as_json, read_table
from indicators.models import ComputationRun, RunIndicator
from indicators.registry import indicators_for

if TYPE_CHECKING:
    from indicators.stats.analysis import FunnelResult


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    # Resolve the lazy user here, so the template itself never runs a query.
    context.setdefault("signed_in", request.user.is_authenticated)
    context.setdefault("nav", roles.navigation(request.user))  # the links this user may open
    return render(request, template, context)


def _csv(filename: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    # The one CSV writer: text a spreadsheet would run as a formula (file names, reasons, unit names) is neutralised.
    response = HttpResponse(csv_text(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _definition(audit_code: str):
    definition = all_definitions().get(audit_code)
    if definition is None:
        raise Http404("No such audit")
    return definition


def _run(audit_code: str) -> ComputationRun:
    run = selectors.shown_runs().get(audit_code)
    if run is None:
        raise Http404("No results for this audit yet")
    return run


# ------------------------------------------------------------------ home and search


def home(request: HttpRequest) -> HttpResponse:
    runs = selectors.shown_runs()
    audits = [
        {
            "definition": d,
            "run": runs.get(code),
            "release": runs[code].release if code in runs else None,
            "is_analyst": roles.can_manage_releases(request.user, code),
        }
        for code, d in sorted(all_definitions().items(), key=lambda item: item[1].name)
    ]
    return _page(request, "dashboards/home.html", {"audits": audits, "organisations": selectors.organisations()})


def search(request: HttpRequest) -> HttpResponse:
    """Find a trust or alliance by code or name (the type-ahead's fallback without script)."""
    query = request.GET.get("q", "").strip()
    organisations = selectors.organisations()
    matches: list[dict[str, str]] = []
    if query:
        for item in organisations:
            if query.upper() == item["code"].upper():
                return redirect(item["url"])
        words = query.lower().split()
        matches = [
            item for item in organisations if all(word in f"{item['name']} {item['code']}".lower() for word in words)
        ]
        if len(matches) == 1:
            return redirect(matches[0]["url"])
    return _page(
        request, "dashboards/search.html", {"query": query, "matches": matches, "organisations": organisations}
    )


# ------------------------------------------------------------------ audit and indicator pages


def audit(request: HttpRequest, audit_code: str) -> HttpResponse:
    definition = _definition(audit_code)
    run = _run(audit_code)
    variant = selectors.variant_for(request.user, audit_code)
    found = selectors.pieces({run: [services.audit_key(variant)]})
    data = found[(run.pk, services.audit_key(variant))]
    if request.GET.get("download") == "indicators":
        return _csv(
            f"{audit_code}-indicators.csv",
            [
                "code",
                "indicator",
                "period",
                "england",
                "england_counts",
                "trusts_compared",
                "trusts_outside_95_limits",
                "direction",
                "numerator",
                "denominator",
                "risk_adjusted",
            ],
            [
                [
                    i["code"],
                    i["title"],
                    i["headline"] or "",
                    i["england"],
                    i["england_counts"],
                    i["compared"],
                    i["outside_95"],
                    i["direction_text"],
                    i["numerator_text"],
                    i["denominator_text"],
                    i["risk_adjusted"],
                ]
                for i in data["indicators"]
            ],
        )
    return _page(
        request,
        "dashboards/audit.html",
        {"definition": definition, "data": data, "run": run, "is_analyst": variant == "analyst"},
    )


def indicator(request: HttpRequest, audit_code: str, code: str) -> HttpResponse:
    definition = _definition(audit_code)
    run = _run(audit_code)
    variant = selectors.variant_for(request.user, audit_code)
    overview = selectors.pieces({run: [services.audit_key(variant)]})[(run.pk, services.audit_key(variant))]
    item = next((i for i in overview["indicators"] if i["code"] == code), None)
    if item is None:
        raise Http404("No such indicator")
    if not item["periods"]:
        card = selectors.pieces({run: [services.card_key(code)]}).get((run.pk, services.card_key(code)))
        return _page(
            request,
            "dashboards/indicator_unavailable.html",
            {"definition": definition, "item": item, "run": run, "card": card},
        )
    period = request.GET.get("period") or item["headline"]
    if period not in item["periods"]:
        raise Http404("No results for that period")
    keys = [services.indicator_key(code, period, variant), services.card_key(code)]
    found = selectors.pieces({run: keys})
    data = found[(run.pk, keys[0])]
    card = found.get((run.pk, keys[1]))
    table = request.GET.get("download")
    if table in ("trusts", "alliances"):
        return _indicator_csv(audit_code, item, period, data, table)
    if table == "calibration" and card and card.get("fitted"):
        return _csv(
            f"{audit_code}-{code}-calibration.csv",
            ["group", "patients", "mean_predicted", "observed", "expected_events", "observed_events"],
            [
                [g["decile"], g["n"], g["predicted"], g["observed"], g["expected_events"], g["observed_events"]]
                for g in card["calibration"]
            ],
        )
    if table == "coefficients" and card and card.get("fitted"):
        return _csv(
            f"{audit_code}-{code}-coefficients.csv",
            ["term", "odds_ratio", "odds_ratio_95_interval", "p"],
            [[c["term"], c["odds_ratio"], c["ci"], c["p_value"]] for c in card["coefficients"]],
        )
    highlight = request.GET.get("highlight", "").strip().upper()
    highlight_name = ""
    if highlight:
        for row in data["providers"]:
            if row["organisation"] == highlight:
                highlight_name = row["name"]
        for row in data["alliances"]:
            if row["organisation"] == highlight:
                highlight_name = row["name"]
    highlighted = [r for r in data["providers"] if highlight and highlight in (r["organisation"], r["alliance"])]
    # Only a plotted trust can be ringed: one not shown (small numbers) or not compared is not drawn.
    ringed = [r for r in highlighted if r["shown"] and r["compared"]]
    # A highlighted trust also rings its alliance on the alliance-level funnel.
    highlight_alliance = next((r["alliance"] for r in highlighted if r["organisation"] == highlight), highlight)
    return _page(
        request,
        "dashboards/indicator.html",
        {
            "definition": definition,
            "item": item,
            "data": data,
            "card": card,
            "period": period,
            "run": run,
            "highlight": highlight,
            "highlight_name": highlight_name,
            "highlighted": highlighted,
            "ringed": ringed,
            "highlight_alliance": highlight_alliance,
            "is_analyst": variant == "analyst",
            "legend": MEANING_LEGEND,
            "periods": [
                {"period": p, "current": p == period, "headline": p == item["headline"]} for p in item["periods"]
            ],
        },
    )


def _indicator_csv(audit_code: str, item: dict[str, Any], period: str, data: dict[str, Any], table: str):
    rows = data["providers"] if table == "trusts" else data["alliances"]
    header = ["code", "name"] + (["cancer_alliance"] if table == "trusts" else [])
    if item["risk_adjusted"]:
        header += [
            "patients",
            "observed",
            "expected",
            "observed_over_expected",
            "oe_95_interval",
            "risk_adjusted_rate",
            "rate_95_interval",
            "compared_with_expected",
        ]
    else:
        header += ["numerator", "denominator", "value", "value_95_interval", "compared_with_expected"]
    out = []
    for row in rows:
        line = [row["organisation"], row["name"]] + ([row["alliance_name"]] if table == "trusts" else [])
        if item["risk_adjusted"]:
            line += [
                row["denominator"],
                row["numerator"],
                row["expected_text"],
                row["ratio_text"],
                row["ratio_ci_text"],
                row["value_text"],
                row["ci_text"],
                row["label"],
            ]
        else:
            line += [row["numerator"], row["denominator"], row["value_text"], row["ci_text"], row["label"]]
        out.append(line)
    return _csv(f"{audit_code}-{item['code']}-{slugify(period)}-{table}.csv", header, out)


# ------------------------------------------------------------------ trust and alliance pages


def trust(request: HttpRequest, code: str) -> HttpResponse:
    if code != code.upper():
        return redirect("trust", code=code.upper())
    organisation = get_object_or_404(Trust.objects.select_related("alliance"), code=code)
    runs = selectors.shown_runs()
    variants = {audit: selectors.variant_for(request.user, audit) for audit in runs}
    found = selectors.pieces({run: [services.trust_key(code, variants[audit])] for audit, run in runs.items()})
    sections = []
    for audit_code, run in sorted(runs.items(), key=lambda item: item[1].release.audit.name):
        data = found.get((run.pk, services.trust_key(code, variants[audit_code])))
        if data:
            sections.append({**data, "analyst": variants[audit_code] == "analyst"})
    download = request.GET.get("download")
    if download:
        section = next((s for s in sections if s["audit"] == download), None)
        if section is None:
            raise Http404("No such table")
        return _csv(
            f"{code}-{download}.csv",
            [
                "indicator",
                "period",
                "value",
                "value_95_interval",
                "counts",
                "cancer_alliance",
                "england",
                "compared_with_expected",
                "sentence",
            ],
            [
                [
                    c["title"],
                    c["period"],
                    c["value_text"],
                    c["ci_text"],
                    c["counts"],
                    c["alliance_text"],
                    c["england_text"],
                    c["label"],
                    c["sentence"],
                ]
                for c in section["cards"]
            ],
        )
    worse: list[dict[str, Any]] = []
    better: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for section in sections:
        for card in section["cards"]:
            entry = {**card, "audit": section["audit"], "short_name": section["short_name"]}
            {"worse": worse, "better": better, "higher": other, "lower": other}.get(card["meaning"], []).append(entry)
    compared = sum(s["compared"] for s in sections)
    return _page(
        request,
        "dashboards/trust.html",
        {
            "trust": organisation,
            "sections": sections,
            "worse": worse,
            "better": better,
            "other": other,
            "compared": compared,
            "expected_by_chance": round(0.05 * compared, 1),
        },
    )


def alliance(request: HttpRequest, code: str) -> HttpResponse:
    if code != code.upper():
        return redirect("alliance", code=code.upper())
    organisation = get_object_or_404(Alliance, code=code)
    runs = selectors.shown_runs()
    variants = {audit: selectors.variant_for(request.user, audit) for audit in runs}
    wanted = {
        run: [services.alliance_key(code, variants[a]), services.alliance_funnels_key(variants[a])]
        for a, run in runs.items()
    }
    found = selectors.pieces(wanted)
    sections = []
    for audit_code, run in sorted(runs.items(), key=lambda item: item[1].release.audit.name):
        data = found.get((run.pk, services.alliance_key(code, variants[audit_code])))
        if data:
            funnels = found.get((run.pk, services.alliance_funnels_key(variants[audit_code]))) or {}
            sections.append(
                {
                    **data,
                    "funnels": funnels,
                    "analyst": variants[audit_code] == "analyst",
                    "first": next((c for c, f in funnels.items() if f["figure"]), None),
                }
            )
    download = request.GET.get("download", "")
    if download:
        audit_code, _, table = download.partition(":")
        section = next((s for s in sections if s["audit"] == audit_code), None)
        if section is None or table not in ("grid", "england"):
            raise Http404("No such table")
        if table == "grid":
            header = ["trust_code", "trust"] + [f"{i['title']} ({i['period']})" for i in section["indicators"]]
            rows = [
                [t["code"], t["name"]] + [f"{c['value_text']} ({c['label']})" if c else "" for c in t["cells"]]
                for t in section["grid"]
            ]
        else:
            header = ["indicator", "period", "alliance", "alliance_95_interval", "england", "compared_with_expected"]
            rows = [
                [r["title"], r["period"], r["value_text"], r["ci_text"], r["england_text"], r["label"]]
                for r in section["rows"]
            ]
        return _csv(f"{code}-{audit_code}-{table}.csv", header, rows)
    return _page(request, "dashboards/alliance.html", {"alliance": organisation, "sections": sections})


# ------------------------------------------------------------------ trend page


def trend(
    request: HttpRequest, code: str, audit_code: str, indicator_code: str, level: str = "provider"
) -> HttpResponse:
    model = Trust if level == "provider" else Alliance
    organisation = get_object_or_404(model, code=code)
    definition = _definition(audit_code)
    run = _run(audit_code)
    variant = selectors.variant_for(request.user, audit_code)
    overview = selectors.pieces({run: [services.audit_key(variant)]})[(run.pk, services.audit_key(variant))]
    item = next((i for i in overview["indicators"] if i["code"] == indicator_code), None)
    if item is None:
        raise Http404("No such indicator")
    data = selectors.trend_piece(run, level, code, indicator_code, variant)
    if data is None:
        raise Http404("No trend for this organisation and indicator")
    if request.GET.get("download") == "quarters":
        return _csv(
            f"{code}-{audit_code}-{indicator_code}-quarters.csv",
            ["quarter", "numerator", "denominator", "value", "spc_point_type", "spc_rule"],
            [
                [r["quarter"], r["numerator"], r["denominator"], r["value_text"], r["point_type"], r["rule"]]
                for r in data["rows"]
            ],
        )
    return _page(
        request,
        "dashboards/trend.html",
        {
            "organisation": organisation,
            "level": level,
            "definition": definition,
            "item": item,
            "data": data,
            "icons": _spc_icons(data),
            "is_analyst": variant == "analyst",
        },
    )


# ------------------------------------------------------------------ "is this flag real?"


def flag_check(request: HttpRequest, code: str, audit_code: str, indicator_code: str) -> HttpResponse:
    """Beside a trust's flag: completeness of the fields behind it, the flag in each year, the excess events and
    (risk-adjusted) their course by quarter. Built from the run's stored, published figures on first visit."""
    if code != code.upper():
        return redirect("trust-flag-check", code=code.upper(), audit_code=audit_code, indicator_code=indicator_code)
    organisation = get_object_or_404(Trust, code=code)
    definition = _definition(audit_code)
    run = _run(audit_code)
    variant = selectors.variant_for(request.user, audit_code)
    data = selectors.check_piece(run, code, indicator_code, variant)
    if data is None:
        raise Http404("No result for this trust and indicator")
    indicator_definition = next(i for i in indicators_for(audit_code) if i.code == indicator_code)
    release = run.release
    by_trust = quality_by_trust(request.user, release)
    trust_percent = None
    if by_trust is not None:
        published = publish_quality_by_trust(by_trust.providers, unsuppressed=by_trust.exact)
        row = next((p for p in published if p["provider_code"] == code), None)
        trust_percent = row["percent_complete"] if row else None
    columns = [c for c in columns_used(indicator_definition, definition) if c != definition.provider]
    completeness = services.completeness_rows(
        columns=columns,
        covariates=data["covariates"],
        quality=release.quality_report or {},
        trust_percent=trust_percent,
        model_completeness=data["model_completeness"],
    )
    if request.GET.get("download") == "years":
        return _csv(
            f"{code}-{audit_code}-{indicator_code}-years.csv",
            ["period", "value", "value_95_interval", "england", "observed_minus_expected", "interval_95", "flag"],
            [
                [y["period"], y["value_text"], y["ci_text"], y["england_text"], y["excess"], y["excess_ci"], y["label"]]
                for y in data["years"]
            ],
        )
    return _page(
        request,
        "dashboards/flag_check.html",
        {
            "trust": organisation,
            "definition": definition,
            "data": data,
            "completeness": completeness,
            "completeness_text": completeness_sentence(completeness, shown=trust_percent is not None),
            "is_analyst": variant == "analyst",
            "legend": MEANING_LEGEND,
        },
    )


VARIATION_WORDS = {
    "common_cause": ("Common cause variation", "The latest quarters vary no more than expected by chance."),
    "improvement_high": ("Special cause variation: improvement (higher)", "Higher values, which is better."),
    "improvement_low": ("Special cause variation: improvement (lower)", "Lower values, which is better."),
    "concern_high": ("Special cause variation: concern (higher)", "Higher values, which is worse."),
    "concern_low": ("Special cause variation: concern (lower)", "Lower values, which is worse."),
    "neutral_high": ("Special cause variation: higher", "Higher values; neither better nor worse."),
    "neutral_low": ("Special cause variation: lower", "Lower values; neither better nor worse."),
}
ASSURANCE_WORDS = {
    "consistent_pass": ("Consistently meets the target", "The process limits are on the right side of the target."),
    "consistent_fail": (
        "Consistently misses the target",
        "The target lies outside the process limits: without a change to the process it will not be met.",
    ),
    "inconsistent": (
        "Hit and miss",
        "The target lies within the process limits: it will sometimes be met and sometimes not.",
    ),
}


def _spc_icons(data: dict[str, Any]) -> list[dict[str, str]]:
    icons = []
    variation = data.get("variation_icon")
    if variation in VARIATION_WORDS:
        kind = variation.split("_")[0]
        icons.append(
            {
                "kind": "variation",
                "name": variation,
                "class": kind,
                "letter": {"high": "H", "low": "L"}.get(variation.rsplit("_", 1)[-1], "~"),
                "title": VARIATION_WORDS[variation][0],
                "text": VARIATION_WORDS[variation][1],
            }
        )
    assurance = data.get("assurance_icon")
    if assurance in ASSURANCE_WORDS:
        icons.append(
            {
                "kind": "assurance",
                "name": assurance,
                "class": {"consistent_pass": "improvement", "consistent_fail": "concern"}.get(assurance, "common"),
                "letter": {"consistent_pass": "P", "consistent_fail": "F"}.get(assurance, "?"),
                "title": ASSURANCE_WORDS[assurance][0],
                "text": ASSURANCE_WORDS[assurance][1],
            }
        )
    return icons


# ------------------------------------------------------------------ data quality (analysts)


def _require_manager(request: HttpRequest, audit_code: str) -> None:
    if not roles.can_manage_releases(request.user, audit_code):
        raise PermissionDenied("Only this audit's analysts (and staff) can see its releases and data quality.")


@login_required
def data_quality(request: HttpRequest, audit_code: str) -> HttpResponse:
    """Completeness by column and trust of the current release, the release history, import and computation
    progress (read from what the import and the runs stored; nothing is computed here)."""
    definition = _definition(audit_code)
    _require_manager(request, audit_code)
    releases = list(Release.objects.filter(audit_id=audit_code).order_by("-version"))
    current = next((r for r in releases if not r.is_withdrawn), None)
    runs = list(
        ComputationRun.objects.filter(release__audit_id=audit_code)
        .select_related("release")
        .order_by("-requested_at", "-pk")[:10]
    )
    entries: dict[int, list[RunIndicator]] = {}
    for entry in RunIndicator.objects.filter(run__in=runs).only("run_id", "indicator", "status", "failure", "attempts"):
        entries.setdefault(entry.run_id, []).append(entry)
    jobs = list(ImportJob.objects.filter(audit_id=audit_code).select_related("release", "submitted_by")[:10])
    quality = (current.quality_report if current else None) or {}
    names = dict(Trust.objects.values_list("code", "name"))
    optional = quality.get("optional_columns", [])
    by_trust = quality_by_trust(request.user, current) if current else None  # the one answer (staff: none)
    exact = by_trust is not None and by_trust.exact
    published = publish_quality_by_trust(by_trust.providers, unsuppressed=exact) if by_trust else []
    marker = services.suppression_policy().marker
    providers = sorted(
        (
            {
                "code": p["provider_code"],
                "name": names.get(p["provider_code"], p["provider_code"]),
                "rows": marker if p["rows"] is None else p["rows"],
                "cells": [p["percent_complete"].get(c) for c in optional],
            }
            for p in published
        ),
        key=lambda p: p["name"].lower(),
    )
    if current is not None and request.GET.get("download") == "columns":
        return _csv(
            f"{audit_code}-release-{current.version}-completeness-by-column.csv",
            ["column", "required", "filled", "missing", "percent_complete"],
            [
                [c["column"], c["required"], c["filled"], c["missing"], c["percent_complete"]]
                for c in quality.get("columns", [])
            ],
        )
    if current is not None and request.GET.get("download") == "trusts":
        return _csv(
            f"{audit_code}-release-{current.version}-completeness-by-trust.csv",
            ["trust_code", "trust", "rows", *optional],
            [[p["code"], p["name"], p["rows"], *p["cells"]] for p in providers],
        )
    if request.GET.get("download") == "releases":
        return _csv(
            f"{audit_code}-releases.csv",
            [
                "version",
                "status",
                "current",
                "rows",
                "period_start",
                "period_end",
                "extract_date",
                "file_name",
                "sha256",
                "uploaded_at",
                "uploaded_by",
                "origin",
                "withdrawn_reason",
            ],
            [
                [
                    r.version,
                    r.status,
                    r == current,
                    r.rows,
                    r.period_start,
                    r.period_end,
                    r.extract_date,
                    r.file_name,
                    r.sha256,
                    r.uploaded_at.isoformat(),
                    r.uploaded_by_name,
                    r.origin,
                    r.withdrawn_reason,
                ]
                for r in releases
            ],
        )
    if request.GET.get("download") == "uploads":
        return _csv(
            f"{audit_code}-uploads.csv",
            ["import", "file_name", "status", "percent_done", "release", "submitted_at", "submitted_by"],
            [
                [
                    j.pk,
                    j.file_name,
                    j.status,
                    j.percent_done,
                    j.release.version if j.release else "",
                    j.submitted_at.isoformat(),
                    j.submitted_by.get_username() if j.submitted_by else "",
                ]
                for j in jobs
            ],
        )
    if request.GET.get("download") == "runs":
        return _csv(
            f"{audit_code}-computation-runs.csv",
            ["run", "release", "status", "shown", "completed", "total", "requested_at", "finished_at", "failure"],
            [
                [
                    r.pk,
                    r.release.version,
                    r.status,
                    r.is_current,
                    r.completed,
                    r.total,
                    r.requested_at.isoformat(),
                    r.finished_at.isoformat() if r.finished_at else "",
                    r.failure,
                ]
                for r in runs
            ],
        )
    busy = any(r.status in (ComputationRun.Status.QUEUED, ComputationRun.Status.RUNNING) for r in runs) or any(
        not j.finished for j in jobs
    )
    return _page(
        request,
        "dashboards/data_quality.html",
        {
            "definition": definition,
            "releases": releases,
            "current": current,
            "quality": quality,
            "optional": optional,
            "providers": providers,
            "jobs": jobs,
            "busy": busy,
            "exact": exact,
            "by_trust_shown": by_trust is not None,
            "runs": [{"run": r, "entries": sorted(entries.get(r.pk, []), key=lambda e: e.indicator)} for r in runs],
            "figure": figures.completeness_figure(quality["columns"]) if quality.get("columns") else None,
        },
    )


@login_required
def data_quality_status(request: HttpRequest, audit_code: str) -> JsonResponse:
    """Progress of the audit's imports and runs, polled by the data-quality page while something runs."""
    _definition(audit_code)
    _require_manager(request, audit_code)
    runs = ComputationRun.objects.filter(release__audit_id=audit_code).order_by("-requested_at", "-pk")[:10]
    jobs = ImportJob.objects.filter(audit_id=audit_code)[:10]
    return JsonResponse(
        {
            "runs": [
                {
                    "id": r.pk,
                    "status": r.status,
                    "progress": r.progress_text,
                    "completed": r.completed,
                    "total": r.total,
                }
                for r in runs
            ],
            "jobs": [{"id": j.pk, "status": j.status, "percent": j.percent_done} for j in jobs],
            "busy": any(r.status in ("queued", "running") for r in runs) or any(not j.finished for j in jobs),
        }
    )


# ------------------------------------------------------------------ funnel tool


@login_required
def funnel_tool(request: HttpRequest) -> HttpResponse:
    """An analyst's own aggregated table -> funnel plot, table and CSV, with the `funnel` command's analysis."""
    if not roles.can_use_funnel_tool(request.user):
        raise PermissionDenied("The funnel tool is for the analysts of an audit (of any audit) and for staff.")
    form = {
        "kind": request.POST.get("kind", "proportion"),
        "method": request.POST.get("method", "exact"),
        "overdispersion": request.POST.get("overdispersion", "auto"),
        "table": request.POST.get("table", ""),
    }
    errors: list[dict[str, Any]] = []
    result: FunnelResult | None = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is not None:
            try:
                form["table"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                errors.append({"line": None, "column": "", "value": "", "message": "the file is not UTF-8 text"})
        if form["kind"] not in METHODS or form["overdispersion"] not in OVERDISPERSION:
            errors.append({"line": None, "column": "", "value": "", "message": "choose a kind and an overdispersion"})
        elif not form["table"].strip() and not errors:
            errors.append({"line": None, "column": "", "value": "", "message": "choose a file or paste a table"})
        if not errors:
            try:
                result = analyse(
                    read_table(form["table"], form["kind"]),
                    method=form["method"],
                    overdispersion=form["overdispersion"],
                )
            except AggregateError as exc:
                errors = exc.errors
    rows: list[dict[str, Any]] = []
    figure: dict[str, Any] | None = None
    summary = ""
    if result is not None:
        rows, figure, summary = _funnel_tool_output(result)
        if request.POST.get("download") == "csv":
            return _csv(
                "funnel.csv",
                [
                    "unit",
                    "numerator" if result.kind == "proportion" else "observed",
                    "denominator" if result.kind == "proportion" else "expected",
                    "value",
                    "ci_lower",
                    "ci_upper",
                    "limit_lower_95",
                    "limit_upper_95",
                    "limit_lower_998",
                    "limit_upper_998",
                    "z",
                    "flag",
                ],
                [
                    [
                        r["unit"],
                        r["numerator"],
                        r["denominator"],
                        r["value"],
                        r["ci_lower"],
                        r["ci_upper"],
                        r["limit_lower_95"],
                        r["limit_upper_95"],
                        r["limit_lower_998"],
                        r["limit_upper_998"],
                        r["z"],
                        r["flag"],
                    ]
                    for r in rows
                ],
            )
    return _page(
        request,
        "dashboards/funnel_tool.html",
        {
            "form": form,
            "errors": errors,
            "result": result,
            "rows": rows,
            "figure": figure,
            "summary": summary,
            "methods": METHODS,
            "overdispersion_choices": OVERDISPERSION,
        },
    )


def _funnel_tool_output(result: FunnelResult) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    data = as_json(result)
    proportion = result.kind == "proportion"
    fmt = percent if proportion else ratio
    rows, points = [], []
    counts: dict[str, int] = {}
    for unit in data["units"]:
        unit["value_text"] = fmt(unit["value"])
        unit["ci_text"] = interval(unit["ci_lower"], unit["ci_upper"], fmt)
        unit["label"] = label_of(unit["flag"], "no_judgement")
        counts[unit["flag"]] = counts.get(unit["flag"], 0) + 1
        rows.append(unit)
        if unit["value"] is not None:
            points.append(
                {
                    "x": unit["denominator"],
                    "y": unit["value"],
                    "meaning": meaning_of(unit["flag"], "no_judgement"),
                    "customdata": [
                        unit["unit"],
                        unit["unit"],
                        unit["value_text"],
                        unit["ci_text"],
                        f"{'Denominator' if proportion else 'Expected'} {unit['denominator']:g}",
                        unit["label"],
                    ],
                }
            )
    figure = figures.funnel_figure(
        points=points,
        kind=result.kind,
        method=result.method,
        target=result.target,
        tau2=result.tau2,
        phi=result.phi,
        overdispersion=result.overdispersion,
        percent_axis=proportion,
        x_title="Denominator" if proportion else "Expected",
        y_title="Proportion" if proportion else "Observed / expected",
        target_label="Target",
    )
    summary = (
        f"Funnel plot of {len(rows)} units around a target of {fmt(result.target)}. "
        + flag_counts_sentence(counts=counts, units=len(rows), expected_flags=0.05 * len(rows), unit_word="unit")
        + (
            f" Limits widened for overdispersion ({result.overdispersion}, φ = {result.phi:.2f}, "
            f"τ² = {result.tau2:.3g})."
            if result.overdispersion_applied
            else f" No overdispersion adjustment (φ = {result.phi:.2f})."
        )
    )
    return rows, figure, summary
