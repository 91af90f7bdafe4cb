"""``col.in_(query)`` / ``col.not_in(query)``: golden SQL and two-valued meaning on PostgreSQL."""

from __future__ import annotations

import psycopg

from djogi import Field, Model, field
from djogi.algebra.compile import compile


class InSubA(Model, table="in_sub_a"):
    n: Field[int | None] = field(default=None)


class InSubB(Model, table="in_sub_b"):
    m: Field[int | None] = field(default=None)


def test_in_and_not_in_a_query_golden() -> None:
    inner = InSubB.objects.values(InSubB.m)
    assert compile(InSubA.objects.filter(InSubA.n.in_(inner)).values(InSubA.n)).sql == (
        'SELECT "in_sub_a"."n" FROM "in_sub_a" WHERE "in_sub_a"."n" IN (SELECT "in_sub_b"."m" FROM "in_sub_b")'
    )
    assert compile(InSubA.objects.filter(InSubA.n.not_in(inner)).values(InSubA.n)).sql == (
        'SELECT "in_sub_a"."n" FROM "in_sub_a" WHERE (("in_sub_a"."n" IN (SELECT "in_sub_b"."m" FROM "in_sub_b"))'
        ' IS NOT TRUE AND "in_sub_a"."n" IS NOT NULL)'
    )


def test_not_in_a_query_is_the_complement_among_non_null_values(pg_sync: psycopg.Connection) -> None:
    pg_sync.execute("CREATE TABLE in_sub_a (id bigint, created_at timestamptz, updated_at timestamptz, n bigint)")
    pg_sync.execute("CREATE TABLE in_sub_b (id bigint, created_at timestamptz, updated_at timestamptz, m bigint)")
    pg_sync.execute("INSERT INTO in_sub_a (n) VALUES (1), (2), (3), (NULL)")
    pg_sync.execute("INSERT INTO in_sub_b (m) VALUES (2), (NULL)")  # SQL's bare NOT IN would keep nothing
    inner = InSubB.objects.values(InSubB.m)

    def run(p: object) -> list[int | None]:
        stmt = compile(InSubA.objects.filter(p).values(InSubA.n).order_by(InSubA.n))  # type: ignore[arg-type]
        raw = psycopg.RawCursor(pg_sync)
        return [r[0] for r in raw.execute(stmt.sql, stmt.params).fetchall()]

    assert run(InSubA.n.in_(inner)) == [2]
    assert run(InSubA.n.not_in(inner)) == [1, 3]
    assert run(~InSubA.n.in_(inner)) == [1, 3, None]
