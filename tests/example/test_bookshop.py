"""The bookshop example (what ``make demo`` runs) works end to end on a fresh database."""

from __future__ import annotations

import sys

from tests.example.helpers import DJOGI, migrate_and_seed, run


def test_bookshop_demo_flow(db_url: str) -> None:
    check = run(db_url, str(DJOGI), "migrations", "check")
    assert check.returncode == 0, f"the committed migrations lag the models:\n{check.stdout}{check.stderr}"
    migrate_and_seed(db_url)
    tour = run(db_url, sys.executable, "run.py")
    assert tour.returncode == 0, tour.stderr
    out = tour.stdout
    assert "PostgreSQL 18" in out
    assert "('The Dispossessed', Decimal('14.50'))" in out
    assert "== the same predicate in memory and in SQL agree\n   True" in out
    assert "['The Left Hand of Darkness', 'Stories of Your Life', 'The Dispossessed']" in out
    assert _section(out, "full-text search of titles") == ["Stories of Your Life", "The Left Hand of Darkness"]
    assert "('paid', [1])" in out
    assert "stale write refused with StaleObject" in out
    assert _section(out, "books by authors named Carl Sagan or Mary Beard") == ["Cosmos", "Pale Blue Dot", "SPQR"]
    assert _section(out, "authors with their books (prefetch: 2 statements)") == [
        "('Carl Sagan', ['Cosmos', 'Pale Blue Dot'])",
        "('Mary Beard', ['SPQR'])",
        "('Ted Chiang', ['Exhalation', 'Stories of Your Life'])",
        "('Ursula K. Le Guin', ['The Dispossessed', 'The Left Hand of Darkness'])",
    ]
    tags = _section(out, "books with their tags through BookTag")
    assert "('Cosmos', ['classic', 'space'])" in tags and "('Stories of Your Life', ['stories'])" in tags
    assert len(tags) == 7
    assert _section(out, "books per genre, and how many under 15 (FILTER)") == [
        "fiction: 4 books, 3 under 15", "science: 2 books, 0 under 15", "history: 1 books, 0 under 15",
    ]
    assert _section(out, "books ranked by price within their genre") == [
        "fiction #1 Exhalation (15.00)",
        "fiction #2 The Dispossessed (14.50)",
        "fiction #3 Stories of Your Life (13.00)",
        "fiction #4 The Left Hand of Darkness (12.00)",
        "science #1 Cosmos (18.00)",
        "science #2 Pale Blue Dot (16.00)",
        "history #1 SPQR (22.00)",
    ]
    tree = [
        "Books", "  Fiction", "    Science fiction", "      Short stories", "  Non-fiction", "    History",
        "    Popular science",
    ]
    assert _section(out, "the category tree (a recursive CTE)") == tree
    assert _section(out, "staff notes as each store sees them (row-level security)") == [
        "('downtown', ['restock Cosmos'])", "('harbour', ['count the till', 'window display'])",
    ]
    assert _section(out, "the application role without a store sees") == ["(0,)"]
    assert _section(out, "djogi without a store") == ["TenantRequired"]
    again = run(db_url, sys.executable, "run.py")
    assert again.returncode == 0, f"the tour is not re-runnable:\n{again.stderr}"
    assert _section(again.stdout, "the category tree (a recursive CTE)") == tree
    assert _section(again.stdout, "staff notes as each store sees them") == _section(out, "staff notes as each store")
    assert _section(again.stdout, "books per genre, and how many under 15 (FILTER)") == _section(
        out, "books per genre, and how many under 15 (FILTER)"
    )


def _section(out: str, title: str) -> list[str]:
    """The printed lines of the section whose title starts with ``title`` (the 3-space indent removed)."""
    for block in out.split("\n== ")[1:]:
        heading, *lines = block.rstrip("\n").split("\n")
        if heading.startswith(title):
            return [line[3:] for line in lines if line.startswith("   ")]
    raise AssertionError(f"no section {title!r} in the output:\n{out}")
