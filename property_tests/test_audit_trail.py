"""The audit trail records exactly the committed writes, whatever they are and however they are made.

Random transactions of raw SQL writes (behind djogi's back) to an audited table that excludes a column:
inserts, updates of a recorded column, of the excluded column only, updates that change nothing, deletes
and updates of missing rows, each transaction under a random actor (``djogi.actor``) or none, some rolled
back. A model of the table predicts the trail: one entry per row a committed statement changed in a
recorded column, in order, with the actor, the row before and after, and the diff of the changed columns;
no entry for a rolled-back transaction, an update changing nothing recorded, or a missing row; the
excluded column never appears.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.audit.helpers import migrate

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "500")) // 10
IDS = (1, 2, 3)
RECORDED = ("id", "email", "balance")

text = st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=8)
op = st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(IDS), text, st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("balance"), st.sampled_from(IDS), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("password"), st.sampled_from(IDS), text),
    st.tuples(st.just("noop"), st.sampled_from(IDS)),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
)
transactions = st.lists(st.tuples(st.lists(op, min_size=1, max_size=5), st.booleans(),
                                  st.none() | st.sampled_from(("7", "svc"))), min_size=1, max_size=6)  # fmt: skip

Row = dict[str, Any]
Entry = tuple[str, str, str | None, Row | None, Row | None, Row]


@pytest.fixture
def owner(db_url: str, tmp_path: Path) -> Iterator[psycopg.Connection[Any]]:
    migrate(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


def _diff(before: Row | None, after: Row | None) -> Row:
    keys = set(before or {}) | set(after or {})
    return {k: [(before or {}).get(k), (after or {}).get(k)] for k in keys
            if (before or {}).get(k) != (after or {}).get(k) or (before is None) != (after is None)}  # fmt: skip


def _apply(conn: psycopg.Connection[Any], table: dict[int, Row], step: tuple[Any, ...], actor: str | None,
           out: list[Entry]) -> None:  # fmt: skip
    """Run one write and predict its entries into ``out`` (``table``: the recorded columns of each row)."""
    kind, key = step[0], step[1]
    before = table.get(key)
    if kind == "insert":
        if before is not None:
            return
        conn.execute("INSERT INTO aud_accounts (id, email, password, balance) VALUES (%s, %s, 'h', %s)",
                     (key, step[2], step[3]))  # fmt: skip
        table[key] = {"id": key, "email": step[2], "balance": step[3]}
    elif kind == "balance":
        conn.execute("UPDATE aud_accounts SET balance = %s WHERE id = %s", (step[2], key))
        if before is not None:
            table[key] = {**before, "balance": step[2]}
    elif kind == "password":
        conn.execute("UPDATE aud_accounts SET password = %s WHERE id = %s", (step[2], key))
    elif kind == "noop":
        conn.execute("UPDATE aud_accounts SET email = email WHERE id = %s", (key,))
    else:
        conn.execute("DELETE FROM aud_accounts WHERE id = %s", (key,))
        table.pop(key, None)
    after = table.get(key)
    if (before is None and after is None) or before == after:
        return
    action = "insert" if before is None else "delete" if after is None else "update"
    out.append((str(key), action, actor, before, after, _diff(before, after)))


def _recorded(image: Row | None) -> Row | None:
    return None if image is None else {k: v for k, v in image.items() if k in RECORDED}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transactions)
@example([([("insert", 1, "a", 0), ("password", 1, "x"), ("noop", 1), ("balance", 1, 0), ("balance", 2, 5)], True,
           "7"), ([("delete", 1)], False, None), ([("delete", 1), ("insert", 1, "b", 1)], True, None)])  # fmt: skip
def test_the_trail_is_exactly_the_committed_writes(
    owner: psycopg.Connection[Any], txs: list[tuple[list[tuple[Any, ...]], bool, str | None]]
) -> None:
    owner.execute("TRUNCATE aud_accounts, djogi_audit RESTART IDENTITY")
    table: dict[int, Row] = {}
    expected: list[Entry] = []
    for steps, commit, actor in txs:
        shadow, entries = {k: dict(v) for k, v in table.items()}, []
        try:
            with owner.transaction():
                if actor is not None:
                    owner.execute("SELECT set_config('djogi.actor', %s, true)", (actor,))
                for step in steps:
                    _apply(owner, shadow, step, actor, entries)
                if not commit:
                    raise psycopg.Rollback()
        finally:
            if commit:
                table, expected = shadow, expected + entries
    rows = owner.execute("SELECT row_key, action, actor, before, after, diff FROM djogi_audit ORDER BY id").fetchall()
    got = [(key, action, actor, _recorded(before), _recorded(after), {k: v for k, v in diff.items() if k in RECORDED})
           for key, action, actor, before, after, diff in rows]  # fmt: skip
    assert got == expected
    assert all("password" not in (before or {}) and "password" not in (after or {}) and "password" not in diff
               for _, _, _, before, after, diff in rows)  # fmt: skip
