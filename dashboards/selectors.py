"""Reads for the pages: the run shown for each audit, and its prebuilt pieces."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django.db.models import Q
from django.urls import reverse

from audits.models import Alliance, Trust
from audits.roles import sees_unsuppressed
from dashboards import services
from dashboards.models import FigureSpec
from indicators.models import ComputationRun
from indicators.selectors import shown_runs as shown_runs  # the one rule for pages and API alike


def variant_for(user, audit_code: str) -> str:
    """Analysts of the audit see exact counts; everyone else (staff included) sees the suppressed ones."""
    return "analyst" if sees_unsuppressed(user, audit_code) else "public"


class _PieceCache:
    """Decoded pieces by FigureSpec id, in this process.

    A piece's row never changes (a rebuild deletes it and inserts a new row with a new id), so a
    page asks the database only which ids are current and decodes a piece once per process.
    Callers must not modify what they get.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[int, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, ids: list[int]) -> dict[int, Any]:
        with self.lock:
            found = {i: self.items[i] for i in ids if i in self.items}
            for i in found:
                self.items.move_to_end(i)
        return found

    def put(self, values: dict[int, Any]) -> None:
        with self.lock:
            self.items.update(values)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


CACHE = _PieceCache(size=400)


def pieces(wanted: dict[ComputationRun, list[str]]) -> dict[tuple[int, str], Any]:
    """The requested pieces of each run; builds a run's pieces first if nobody has yet.

    One query when every piece is already decoded in this process, two otherwise.
    """
    if not wanted:
        return {}
    found = _fetch(wanted)
    missing = [run for run in wanted if (run.pk, services.BUILT) not in found]
    if missing:
        for run in missing:
            services.build_run_pages(run)
        found = _fetch(wanted)
    return found


def _fetch(wanted: dict[ComputationRun, list[str]]) -> dict[tuple[int, str], Any]:
    condition = Q()
    for run, keys in wanted.items():
        condition |= Q(run_id=run.pk, key__in=[*keys, services.BUILT])
    rows = list(FigureSpec.objects.filter(condition).values_list("pk", "run_id", "key"))
    cached = CACHE.get([pk for pk, _, _ in rows])
    absent = [pk for pk, _, _ in rows if pk not in cached]
    if absent:
        loaded = dict(FigureSpec.objects.filter(pk__in=absent).values_list("pk", "data"))
        CACHE.put(loaded)
        cached.update(loaded)
    return {(run_id, key): cached[pk] for pk, run_id, key in rows}


def trend_piece(run: ComputationRun, level: str, organisation: str, code: str, variant: str) -> Any:
    """An XmR chart piece, built from the run's stored series on first visit and kept."""
    key = services.trend_key(level, organisation, code, variant)
    found = _fetch({run: [key]})
    if (run.pk, key) in found:
        return found[(run.pk, key)]
    data = services.build_trend(run, level, organisation, code, variant)
    if data is not None:
        services.store_piece(run, key, data)
    return data


def check_piece(run: ComputationRun, trust: str, code: str, variant: str) -> Any:
    """A trust's "is this flag real?" panel, built from the run's stored results on first visit and kept."""
    key = services.check_key(trust, code, variant)
    found = _fetch({run: [key]})
    if (run.pk, key) in found:
        return found[(run.pk, key)]
    data = services.build_check(run, trust, code, variant)
    if data is not None:
        services.store_piece(run, key, data)
    return data


def organisations() -> list[dict[str, str]]:
    """Every active trust and every alliance, for finding one by name or code."""
    trust_url = reverse("trust", args=["CODE"])
    alliance_url = reverse("alliance", args=["CODE"])
    items = [
        {"code": code, "name": name, "kind": "Trust", "url": trust_url.replace("CODE", code)}
        for code, name in Trust.objects.filter(active=True).values_list("code", "name")
    ]
    items += [
        {"code": code, "name": name, "kind": "Cancer Alliance", "url": alliance_url.replace("CODE", code)}
        for code, name in Alliance.objects.values_list("code", "name")
    ]
    return items
