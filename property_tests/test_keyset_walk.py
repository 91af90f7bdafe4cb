"""A keyset walk over 100k rows in PostgreSQL visits every row exactly once, in order.

The rows have many ties on the leading keys; the walks use mixed directions (an OR chain) and a single
direction (a row comparison), each ending with the primary key as the tie-breaker. The compiled
``Statement`` runs directly on a psycopg raw cursor (``$n`` placeholders), as the executor will run it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from djogi import Model, Serial
from djogi.algebra.results import TupleRows

N_ROWS = 100_000
PAGE = 2_000


class WalkRow(Model, table="prop_keyset_rows", pk=Serial):
    a: int
    b: int


DDL = """
CREATE TABLE prop_keyset_rows (
    id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), a bigint NOT NULL, b bigint NOT NULL
)
"""


@pytest.fixture
def loaded(pg_sync: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    pg_sync.execute(DDL)
    with pg_sync.cursor().copy("COPY prop_keyset_rows (id, a, b) FROM STDIN") as copy:
        for i in range(1, N_ROWS + 1):
            copy.write_row((i, (i * 7919) % 10, (i * 104729) % 97))
    pg_sync.execute("ANALYZE prop_keyset_rows")
    return pg_sync


ORDERINGS = {
    "mixed directions": (WalkRow.a.asc(), WalkRow.b.desc(), WalkRow.id.asc()),
    "all descending": (WalkRow.a.desc(), WalkRow.b.desc(), WalkRow.id.desc()),
    "all ascending": (WalkRow.b.asc(), WalkRow.id.asc()),
}


@pytest.mark.parametrize("name", sorted(ORDERINGS))
def test_keyset_walk_visits_every_row_once_in_order(loaded: psycopg.Connection[Any], name: str) -> None:
    keys = ORDERINGS[name]
    base = WalkRow.objects.order_by(*keys).values(*[k.expr for k in keys]).limit(PAGE)
    cur = psycopg.RawCursor(loaded)
    seen: list[tuple[Any, ...]] = []
    page = base
    first_sql = None
    while True:
        stmt = page.sql()
        assert stmt.result == TupleRows(len(keys))
        rows = cur.execute(stmt.sql, stmt.params).fetchall()
        if page is not base:
            first_sql = first_sql or stmt.sql
            assert stmt.sql == first_sql  # every later page is one cached shape
        seen.extend(rows)
        if len(rows) < PAGE:
            break
        page = base.after(rows[-1])
    expected = psycopg.RawCursor(loaded).execute(base.limit(None).sql().sql).fetchall()
    assert len(seen) == N_ROWS
    assert seen == expected
    assert len({row[-1] for row in seen}) == N_ROWS
