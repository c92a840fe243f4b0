"""The pieces a page reads, decoded once per process: :data:`CACHE` (stored pieces) and :data:`DERIVED`
(panels derived when first asked for). One object each: every module reads and fills the same two."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from django.db.models import Case, F, JSONField, Q, Value, When

from dashboards.models import FigureSpec
from dashboards.pages.piece import decode
from dashboards.pages.run import BUILT
from indicators.models import ComputationRun


class PiecesNotBuilt(Exception):  # noqa: N818 - a state the view handles, not an error
    """Nobody has built these runs' pieces yet: the view builds them (dashboards.services) and reads again."""

    def __init__(self, runs: list[ComputationRun]) -> None:
        super().__init__(f"pieces of runs {[run.pk for run in runs]} not built")
        self.runs = runs


class _PieceCache:
    """Decoded pieces in this process, by a key that names an immutable value.

    A piece's row never changes (a rebuild deletes it and inserts a new row with a new id), so a
    page asks the database only which ids are current and decodes a piece once per process.
    Callers must not modify what they get.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, ids: list[Any]) -> dict[Any, Any]:
        with self.lock:
            found = {i: self.items[i] for i in ids if i in self.items}
            for i in found:
                self.items.move_to_end(i)
        return found

    def put(self, values: dict[Any, Any]) -> None:
        with self.lock:
            self.items.update(values)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def ids(self) -> list[Any]:
        with self.lock:
            return list(self.items)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


CACHE = _PieceCache(size=400)  # stored pieces, by FigureSpec id
DERIVED = _PieceCache(size=400)  # trend and flag-check panels, by (run id, when it was requested, key)


def pieces(wanted: dict[ComputationRun, dict[str, Any]]) -> dict[tuple[int, str], Any]:
    """The requested pieces of each run, each decoded as the type its key names (``{run: {key: type}}``).

    One query (a piece this process has decoded is not sent again), a second only for a piece evicted
    from the process's cache meanwhile. Raises
    :class:`PiecesNotBuilt` for runs whose pieces nobody has built yet.
    """
    if not wanted:
        return {}
    condition = Q()
    for run, keys in wanted.items():
        condition |= Q(run_id=run.pk, key__in=[*keys, BUILT])
    # One query: the current ids, and the data of those this process has not decoded yet.
    known = CACHE.ids()
    payload = (
        Case(When(pk__in=known, then=Value(None, output_field=JSONField())), default=F("data")) if known else F("data")
    )
    found = list(FigureSpec.objects.filter(condition).values_list("pk", "run_id", "key", payload))
    built = {run_id for _, run_id, key, _ in found if key == BUILT}
    missing = [run for run in wanted if run.pk not in built]
    if missing:
        raise PiecesNotBuilt(missing)
    types = {run.pk: keys for run, keys in wanted.items()}
    found = [row for row in found if row[2] != BUILT]
    rows = [(pk, run_id, key) for pk, run_id, key, _ in found]
    fresh = {pk: decode(types[run_id][key], data) for pk, run_id, key, data in found if data is not None}
    CACHE.put(fresh)
    cached = {**CACHE.get([pk for pk, _, _ in rows if pk not in fresh]), **fresh}
    absent = {pk: (run_id, key) for pk, run_id, key in rows if pk not in cached}
    if absent:  # evicted by another request since ``known`` was read
        loaded = {
            pk: decode(types[absent[pk][0]][absent[pk][1]], data)
            for pk, data in FigureSpec.objects.filter(pk__in=list(absent)).values_list("pk", "data")
        }
        CACHE.put(loaded)
        cached.update(loaded)
    return {(run_id, key): cached[pk] for pk, run_id, key in rows}
