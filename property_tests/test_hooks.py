"""Lifecycle hooks fire in the documented order, and an error in a hook rolls the write back.

Random sequences of ``create`` / ``save`` / ``delete`` of ``CmpNote`` (whose six hooks each record
themselves, in memory and in the ``cmp_log`` table through the same database handle, and raise when the
note's body names them, ``fail:after_save``), some sequences inside one ``atomic()``. After each operation:

- the hooks that ran are the operation's pair (``before_*`` then ``after_*``), cut after the one that raised;
- when a hook raised, the notes and the log are exactly as before the operation (the row and whatever the
  hooks wrote are rolled back; inside ``atomic()`` only back to the operation's savepoint);
- otherwise the notes are the model kept in memory (the body ``before_create`` stripped, the ``edits``
  ``before_save`` incremented) and the log gained one entry per hook.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import djogi
from djogi.executor import Database
from tests.composition.helpers import EVENTS, CmpLog, CmpNote, create_tables

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "500")) // 10
PAIRS = {"create": ("before_create", "after_create"), "save": ("before_save", "after_save"),
         "delete": ("before_delete", "after_delete")}  # fmt: skip
MARKERS = ("", "fail:before_create", "fail:after_create", "fail:before_save", "fail:after_save",
           "fail:before_delete", "fail:after_delete")  # fmt: skip

bodies = st.tuples(st.sampled_from(MARKERS), st.sampled_from(("", " ", "  ")), st.text("ab", max_size=3)).map(
    lambda parts: f"{parts[1]}{parts[2]}{parts[0]}{parts[1]}"
)
# (verb, the index of the note it targets among the live ones (modulo their number), the body it writes)
ops_strategy = st.lists(st.tuples(st.sampled_from(tuple(PAIRS)), st.integers(0, 7), bodies), min_size=1,
                        max_size=10)  # fmt: skip

Shadow = dict[Any, tuple[str, int]]  # note id -> (body, edits)


@pytest.fixture
def hooked(db_url: str) -> Iterator[tuple[BlockingPortal, Database]]:
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
        djogi.connect(db_url, min_size=1, max_size=2)
    ) as database:
        portal.call(create_tables, database)
        yield portal, database


async def _state(db: Database) -> tuple[Shadow, int]:
    notes = await db.all(CmpNote.objects)
    [(logged,)] = await db.raw("SELECT count(*) FROM cmp_log")
    return {n.id: (n.body, n.edits) for n in notes}, int(logged)


def _expected_hooks(verb: str, body: str) -> tuple[list[str], bool]:
    """The hooks ``verb`` runs on a note whose body (as the hook sees it) is ``body``, and whether one raises."""
    ran: list[str] = []
    for hook in PAIRS[verb]:
        ran.append(hook)
        if f"fail:{hook}" in body:
            return ran, True
    return ran, False


async def _run(db: Database, verb: str, which: int, body: str, shadow: Shadow) -> None:
    before, logged = await _state(db)
    assert before == shadow
    live = sorted(shadow)
    EVENTS.clear()
    if verb == "create":
        expected, fails = _expected_hooks(verb, body)
        call: Any = db.create(CmpNote(body=body))
    elif not live:
        return
    else:
        key = live[which % len(live)]
        note = await db.get(CmpNote, key)
        if verb == "save":
            expected, fails = _expected_hooks(verb, body)
            call = db.save(note, body=body)
        else:
            expected, fails = _expected_hooks(verb, note.body)
            call = db.delete(note)
    if fails:
        with pytest.raises(RuntimeError, match=expected[-1]):
            await call
    else:
        result = await call
        if verb == "create":
            shadow[result.id] = (body.strip(), 0)
        elif verb == "save":
            shadow[key] = (body, shadow[key][1] + 1)
        else:
            del shadow[key]
    assert expected == EVENTS
    after, logged_after = await _state(db)
    assert after == shadow
    assert logged_after == logged + (0 if fails else len(expected))


def test_hooks_fire_in_order_and_a_failing_hook_rolls_the_write_back(hooked: tuple[BlockingPortal, Database]) -> None:
    portal, database = hooked

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=ops_strategy, one_transaction=st.booleans())
    @example(ops=[("create", 0, "a"), ("save", 0, "fail:after_save"), ("delete", 0, "")], one_transaction=True)
    @example(ops=[("create", 0, " fail:after_delete "), ("delete", 0, ""), ("save", 0, "b"), ("delete", 0, "")],
             one_transaction=False)  # fmt: skip
    def run(ops: list[tuple[str, int, str]], one_transaction: bool) -> None:
        shadow: Shadow = {}

        async def sequence() -> None:
            await database.execute(CmpLog.objects.delete())
            await database.without_hooks().execute(CmpNote.objects.delete())
            for verb, which, body in ops:
                await _run(database, verb, which, body, shadow)

        async def in_one_transaction() -> None:
            async with database.atomic():
                await sequence()

        portal.call(in_one_transaction if one_transaction else sequence)
        assert portal.call(_state, database)[0] == shadow

    run()
