"""Property: ``group_by`` + aggregates computed by PostgreSQL equal the same aggregation in Python, over random
rows with NULLs (count, count(x), sum, min, max, avg of BIGINT, NUMERIC and DOUBLE PRECISION columns)."""

from __future__ import annotations

import math
import os
from decimal import Decimal
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djogi import Field, Model, Serial, field
from djogi.algebra import avg, count, max_, min_, sum_
from djogi.algebra.compile import compile

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "100"))


class AggRow(Model[Serial], table="prop_agg_rows"):
    g: Field[int | None] = field(default=None)
    i: Field[int | None] = field(default=None)
    d: Field[Decimal | None] = field(default=None)
    f: Field[float | None] = field(default=None)


DDL = """CREATE TABLE prop_agg_rows (id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), g bigint, i bigint, d numeric, f double precision)"""

rows_strategy = st.lists(
    st.fixed_dictionaries({
        "g": st.one_of(st.none(), st.integers(0, 3)),
        "i": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
        "d": st.one_of(st.none(), st.decimals(-(10**9), 10**9, places=4, allow_nan=False)),
        "f": st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
    }),
    max_size=30,
)  # fmt: skip

QUERY = AggRow.objects.group_by(AggRow.g).values(
    g=AggRow.g, n=count(), ni=count(AggRow.i), si=sum_(AggRow.i), mi=min_(AggRow.i), xi=max_(AggRow.i),
    ai=avg(AggRow.i), sd=sum_(AggRow.d), md=min_(AggRow.d), ad=avg(AggRow.d), sf=sum_(AggRow.f), xf=max_(AggRow.f),
)  # fmt: skip


def expected(rows: list[dict[str, Any]]) -> dict[int | None, dict[str, Any]]:
    groups: dict[int | None, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["g"], []).append(r)
    out = {}
    for g, members in groups.items():
        i = [r["i"] for r in members if r["i"] is not None]
        d = [r["d"] for r in members if r["d"] is not None]
        f = [r["f"] for r in members if r["f"] is not None]
        out[g] = {
            "n": len(members), "ni": len(i), "si": sum(i) if i else None, "mi": min(i, default=None),
            "xi": max(i, default=None), "ai": Decimal(sum(i)) / len(i) if i else None, "sd": sum(d) if d else None,
            "md": min(d, default=None), "ad": sum(d) / len(d) if d else None, "sf": math.fsum(f) if f else None,
            "xf": max(f, default=None),
        }  # fmt: skip
    return out


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    scale = max(Decimal(1), abs(Decimal(b)))
    return abs(Decimal(a) - Decimal(b)) <= Decimal("1e-9") * scale


def test_group_by_aggregates_match_python(pg_sync: psycopg.Connection[Any]) -> None:
    pg_sync.execute(DDL)
    stmt = compile(QUERY)
    cur = psycopg.RawCursor(pg_sync)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=rows_strategy)
    def run(rows: list[dict[str, Any]]) -> None:
        pg_sync.execute("TRUNCATE prop_agg_rows")
        with pg_sync.cursor() as c, c.copy("COPY prop_agg_rows (id, g, i, d, f) FROM STDIN") as copy:
            for n, r in enumerate(rows, 1):
                copy.write_row((n, r["g"], r["i"], r["d"], r["f"]))
        got = {row[0]: row for row in cur.execute(stmt.sql, stmt.params).fetchall()}
        want = expected(rows)
        assert got.keys() == want.keys()
        for g, row in got.items():
            decoded = dict(zip(stmt.result.columns, row, strict=True))  # type: ignore[union-attr]
            exact = {k: decoded[k] for k in ("n", "ni", "si", "mi", "xi", "sd", "md", "xf")}
            assert exact == {k: want[g][k] for k in exact}, (g, decoded, want[g])
            for k in ("ai", "ad", "sf"):
                assert close(decoded[k], want[g][k]), (g, k, decoded[k], want[g][k])

    run()
