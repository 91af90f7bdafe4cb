"""djogi's prepared queries (``db.prepare(q)``: the shape compiled once, run with new values of its named
parameters), for the event-loop benchmark: (b) and (c) as ``djogi_side`` runs them built on every call."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.djogi_side import PREPARED_FILTER, PREPARED_GET, State, close, connect

NAME = "djogi prepared"
__all__ = ["NAME", "close", "connect", "filtered", "get_by_pk"]


async def get_by_pk(state: State, ids: Sequence[int]) -> int:
    by_pk = state.db.prepare(PREPARED_GET)
    found = 0
    for pk in ids:
        found += len(await by_pk.all(pk=pk))
    return found


async def filtered(state: State, params: Sequence[tuple[int, int]]) -> int:
    window = state.db.prepare(PREPARED_FILTER)
    total = 0
    for floor, qty in params:
        total += len(await window.all(floor=floor, qty=qty))
    return total
