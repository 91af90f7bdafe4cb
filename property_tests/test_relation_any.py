"""``Author.books.any(p)`` keeps exactly the authors with at least one book satisfying ``p`` in memory.

Random authors and books (nullable columns, authors without books) and random portable predicates over
the book's columns: the ids PostgreSQL returns for ``SELECT id FROM authors WHERE EXISTS (...)`` equal the
ids computed in Python with ``p.compile_python()``; ``none(p)`` keeps the complement.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djogi import Field, ForeignKey, Model, Serial, field
from djogi.algebra.compile import compile
from djogi.algebra.predicate import Pred

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "500")) // 5


class PAuthor(Model[Serial], table="prop_rel_authors"):
    name: Field[str] = field(default="")


class PBook(Model[Serial], table="prop_rel_books"):
    author: ForeignKey[PAuthor] = field(related_name="books")
    pages: Field[int | None] = field(default=None)
    title: Field[str | None] = field(default=None)


DDL = """
CREATE TABLE prop_rel_authors (id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL);
CREATE TABLE prop_rel_books (id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), author_id integer NOT NULL REFERENCES prop_rel_authors,
    pages bigint, title text);
"""

leaves = st.one_of(
    st.builds(lambda n: PBook.pages > n, st.integers(-3, 3)),
    st.builds(lambda n: PBook.pages == n, st.integers(-3, 3)),
    st.builds(lambda t: PBook.title == t, st.sampled_from(["a", "b", "ab"])),
    st.builds(lambda t: PBook.title.startswith(t), st.sampled_from(["a", "b"])),
    st.just(PBook.pages.is_null()),
    st.just(PBook.title.is_null()),
)
preds: st.SearchStrategy[Pred] = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(lambda a: ~a, inner),
    ),
    max_leaves=5,
)
books = st.lists(
    st.tuples(st.integers(1, 6), st.one_of(st.none(), st.integers(-3, 3)), st.sampled_from([None, "a", "b", "ab"])),
    max_size=15,
)


def test_any_matches_memory(pg_sync: psycopg.Connection[Any]) -> None:
    pg_sync.execute(DDL)
    pg_sync.execute("INSERT INTO prop_rel_authors (id, name) SELECT g, '' FROM generate_series(1, 6) g")
    cur = psycopg.RawCursor(pg_sync)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=books, ps=st.lists(preds, min_size=1, max_size=4))
    def run(rows: list[tuple[int, int | None, str | None]], ps: list[Pred]) -> None:
        pg_sync.execute("TRUNCATE prop_rel_books")
        with pg_sync.cursor() as c, c.copy("COPY prop_rel_books (id, author_id, pages, title) FROM STDIN") as copy:
            for n, (a, pages, title) in enumerate(rows, 1):
                copy.write_row((n, a, pages, title))
        instances = [PBook(id=n, author=a, pages=pages, title=title) for n, (a, pages, title) in enumerate(rows, 1)]
        for p in ps:
            check = p.compile_python()
            want = {b.author for b in instances if check(b)}
            for rel_pred, expected in ((PAuthor.books.any(p), want), (PAuthor.books.none(p), set(range(1, 7)) - want)):
                stmt = compile(PAuthor.objects.where(rel_pred).values(PAuthor.id))
                got = {row[0] for row in cur.execute(stmt.sql, stmt.params).fetchall()}
                assert got == expected, (p, stmt.sql)

    run()
