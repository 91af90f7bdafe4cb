"""``with_recursive`` walking a 10,000-node tree on PostgreSQL, checked against the same walk in Python."""

from __future__ import annotations

import random
from typing import Any

import psycopg

from djogi import Field, Model, Serial, field
from djogi.algebra import count_of, select, select_from, with_recursive
from djogi.algebra.compile import compile

N = 10_000


class TreeNode(Model[Serial], table="rcte_nodes"):
    parent: Field[int | None] = field(default=None)
    label: Field[str] = field(default="")


DDL = """CREATE TABLE rcte_nodes (id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), parent bigint REFERENCES rcte_nodes, label text NOT NULL)"""


def descendants(root: int) -> Any:
    """Every node under ``root`` (``root`` included)."""
    return with_recursive(
        "walk",
        select(TreeNode).where(TreeNode.id == root),
        lambda walk: select(TreeNode).join(walk, on=TreeNode.parent == walk.id, fetch=False),
    )


def test_golden_sql() -> None:
    stmt = compile(select_from(descendants(7)).values(TreeNode.id))
    cols = ", ".join(f'"rcte_nodes"."{c}"' for c in ("id", "created_at", "updated_at", "parent", "label"))
    assert stmt.sql == (
        f'WITH RECURSIVE "walk" AS ((SELECT {cols} FROM "rcte_nodes" WHERE "rcte_nodes"."id" = $1::bigint) UNION ALL '
        f'(SELECT {cols} FROM "rcte_nodes" INNER JOIN "walk" ON "rcte_nodes"."parent" = "walk"."id")) '
        'SELECT "walk"."id" FROM "walk"'
    )
    assert stmt.params == (7,)


def test_walk_matches_python(pg_sync: psycopg.Connection[Any]) -> None:
    rng = random.Random(5)
    parents = {1: None} | {n: rng.randint(max(1, n - 50), n - 1) for n in range(2, N + 1)}
    pg_sync.execute(DDL)
    with pg_sync.cursor() as cur, cur.copy("COPY rcte_nodes (id, parent, label) FROM STDIN") as copy:
        for n, parent in parents.items():
            copy.write_row((n, parent, f"n{n}"))
    children: dict[int, list[int]] = {}
    for n, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(n)

    def walk(root: int) -> set[int]:
        seen, stack = set(), [root]
        while stack:
            node = stack.pop()
            seen.add(node)
            stack.extend(children.get(node, ()))
        return seen

    cur = psycopg.RawCursor(pg_sync)
    for root in (1, 2, 137, 4_321, N):
        stmt = compile(select_from(descendants(root)).values(TreeNode.id))
        got = {row[0] for row in cur.execute(stmt.sql, stmt.params).fetchall()}
        assert got == walk(root)
        counted = compile(count_of(select_from(descendants(root))))
        assert cur.execute(counted.sql, counted.params).fetchone() == (len(got),)
