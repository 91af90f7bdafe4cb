"""The sample databases load unmodified into a fresh database; the catalog then shows what the originals define.

Counts exclude djogi's own ``heer_*`` tables, which every test database gets from the template.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg.rows import TupleRow

from tests.samples.load import DATA, HERE, SAMPLES, available, load_sample, render, run_script, split_script

Conn = psycopg.Connection[TupleRow]

pytestmark = pytest.mark.skipif(
    not all(available(name) for name in SAMPLES),
    reason=f"sample data not found under {DATA} (set DJOGI_SAMPLES; see docs/dev/sample-databases.md)",
)

RELATIONS = """
    SELECT relname, relkind FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm') AND relname NOT LIKE 'heer%'"""
CONSTRAINTS = """
    SELECT contype, count(*) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace AND conrelid <> 0 AND conrelid::regclass::text NOT LIKE 'heer%'
    GROUP BY contype"""
FK_ACTIONS = """
    SELECT confupdtype, confdeltype, count(*) FROM pg_constraint
    WHERE contype = 'f' AND connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'heer%'
    GROUP BY 1, 2"""
COMPOSITE_KEYS = """
    SELECT c.conrelid::regclass::text, array_agg(a.attname ORDER BY k.n)
    FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(attnum, n)
    JOIN pg_attribute a ON a.attnum = k.attnum
    WHERE a.attrelid = c.conrelid AND c.contype = 'p' AND c.connamespace = 'public'::regnamespace
    GROUP BY c.oid, 1 HAVING count(*) > 1"""
USER_TRIGGERS = """
    SELECT tgname, count(*) FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
    WHERE NOT t.tgisinternal AND r.relnamespace = 'public'::regnamespace GROUP BY tgname"""


def _counts(conn: Conn) -> dict[str, int]:
    tables = [name for name, kind in conn.execute(RELATIONS) if kind in ("r", "p")]
    return {t: conn.execute(f'SELECT count(*) FROM public."{t}"').fetchone()[0] for t in tables}  # type: ignore[index]


def _kinds(conn: Conn) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for _, kind in conn.execute(RELATIONS):
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@pytest.mark.parametrize("path", [p for paths in SAMPLES.values() for p in paths])
def test_split_script_is_lossless(path: str) -> None:
    text = (DATA / path).read_text(encoding="utf-8")
    assert render(split_script(text)) == text


def test_unsupported_meta_command_is_refused(pg_sync: Conn) -> None:
    with pytest.raises(ValueError, match=r"unsupported psql meta-command: \\i other.sql"):
        run_script(pg_sync, "SELECT 1;\n\\i other.sql\n")


def test_pagila_schema_is_the_original() -> None:
    digest = hashlib.sha256((DATA / "pagila/pagila-schema.sql").read_bytes()).hexdigest()
    assert digest == "8ce358e4c8014087b85296694a0893887bd7a4190e3ce407f2721b86b98e5707"


@pytest.mark.parametrize(("name", "license_file"),
                         [("pagila", "LICENSE.txt"), ("chinook", "LICENSE.md"), ("northwind", "LICENSE")])
def test_shipped_files_are_small_and_licensed(name: str, license_file: str) -> None:
    sizes = {p: (DATA / p).stat().st_size for p in SAMPLES[name]}
    assert all(size < 300_000 for size in sizes.values()), sizes
    assert (HERE / name / "SOURCE.md").is_file() and (DATA / name / license_file).is_file()


def test_pagila(db_url: str) -> None:
    load_sample("pagila", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert _kinds(conn) == {"r": 21, "p": 1, "v": 7, "m": 1}
        assert _counts(conn) == {
            "actor": 200, "address": 104, "category": 16, "city": 103, "country": 109, "customer": 100,
            "film": 100, "film_actor": 552, "film_category": 279, "inventory": 456, "language": 6,
            "payment": 312, "payment_p2022_01": 15, "payment_p2022_02": 55, "payment_p2022_03": 60,
            "payment_p2022_04": 52, "payment_p2022_05": 45, "payment_p2022_06": 48, "payment_p2022_07": 37,
            "rental": 312, "staff": 12, "store": 12,
        }
        # 14 table keys + the partitioned payment's key + one per partition; FKs: 18 on the plain tables
        # (17 ON UPDATE CASCADE ON DELETE RESTRICT, staff_store_id_fkey plain), 3 on each of partitions
        # 01-06 and none on 07 (as in the original).
        assert dict(conn.execute(CONSTRAINTS).fetchall()) == {"p": 22, "f": 36, "n": 114}
        assert sorted(conn.execute(FK_ACTIONS).fetchall()) == [("a", "a", 19), ("c", "r", 17)]
        partitions = [f"payment_p2022_0{month}" for month in range(1, 8)]
        assert dict(conn.execute(COMPOSITE_KEYS).fetchall()) == {
            "film_actor": ["actor_id", "film_id"], "film_category": ["film_id", "category_id"],
            **{t: ["payment_date", "payment_id"] for t in ["payment", *partitions]}}
        bounds = conn.execute("""
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'public.payment'::regclass ORDER BY 1""").fetchall()
        assert [name for name, _ in bounds] == partitions
        assert bounds[2] == ("payment_p2022_03",
                             "FOR VALUES FROM ('2022-03-01 00:00:00+00') TO ('2022-04-01 00:00:00+00')")
        assert conn.execute("SELECT partstrat FROM pg_partitioned_table").fetchall() == [("r",)]
        assert dict(conn.execute(USER_TRIGGERS).fetchall()) == {"last_updated": 14, "film_fulltext_trigger": 1}
        assert conn.execute("""
            SELECT t.typname, t.typtype, format_type(t.typbasetype, NULL) FROM pg_type t
            WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('d', 'e')
              AND t.typname NOT LIKE 'heer%' ORDER BY 1""").fetchall() == [
            ("bıgınt", "d", "bigint"), ("mpaa_rating", "e", "-"), ("year", "d", "integer")]
        assert conn.execute("SELECT enum_range(NULL::public.mpaa_rating)::text").fetchone() == (
            "{G,PG,PG-13,R,NC-17}",)
        with pytest.raises(psycopg.errors.CheckViolation, match="year_check"):
            conn.execute("SELECT 1900::public.year")
        assert conn.execute("SELECT count(*) FROM pg_sequences WHERE schemaname = 'public' "
                            "AND sequencename NOT LIKE 'heer%'").fetchone() == (13,)
        # setval kept the original high-water marks, above every trimmed key.
        assert conn.execute("SELECT nextval('public.actor_actor_id_seq'), nextval('public.payment_payment_id_seq')"
                            ).fetchone() == (201, 32099)
        assert conn.execute("SELECT * FROM public.actor WHERE actor_id = 1").fetchone() == (
            1, "PENELOPE", "GUINESS", datetime(2022, 2, 15, 9, 34, 33, tzinfo=UTC))
        assert conn.execute("""
            SELECT film_id, title, release_year, rating, special_features, rental_rate, length
            FROM public.film WHERE film_id = 1""").fetchone() == (
            1, "ACADEMY DINOSAUR", 2012, "PG", ["Deleted Scenes", "Behind the Scenes"], Decimal("0.99"), 86)
        # The BEFORE INSERT trigger computed every fulltext from title and description during COPY.
        assert conn.execute("""
            SELECT count(*) FROM public.film WHERE fulltext IS DISTINCT FROM
                to_tsvector('pg_catalog.english', coalesce(title, '') || ' ' || coalesce(description, ''))
            """).fetchone() == (0,)
        # The last_updated trigger keeps last_update on UPDATE.
        assert conn.execute("UPDATE public.actor SET first_name = 'PENNY' WHERE actor_id = 1 "
                            "RETURNING last_update = now()").fetchone() == (True,)
        # The materialized view is created WITH NO DATA; refreshed, it equals the view of the same query.
        assert conn.execute("SELECT relispopulated FROM pg_class WHERE relname = 'rental_by_category'"
                            ).fetchone() == (False,)
        conn.execute("REFRESH MATERIALIZED VIEW public.rental_by_category")
        view = conn.execute("SELECT * FROM public.sales_by_film_category ORDER BY 1").fetchall()
        assert conn.execute("SELECT * FROM public.rental_by_category ORDER BY 1").fetchall() == view
        assert len(view) == 16


def test_chinook(db_url: str) -> None:
    load_sample("chinook", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert _kinds(conn) == {"r": 11}
        assert _counts(conn) == {
            "album": 347, "artist": 275, "customer": 59, "employee": 8, "genre": 25, "invoice": 40,
            "invoice_line": 225, "media_type": 5, "playlist": 18, "playlist_track": 3410, "track": 1376,
        }
        assert dict(conn.execute(CONSTRAINTS).fetchall()) == {"p": 11, "f": 11, "n": 30}
        assert conn.execute(FK_ACTIONS).fetchall() == [("a", "a", 11)]
        assert conn.execute(COMPOSITE_KEYS).fetchall() == [("playlist_track", ["playlist_id", "track_id"])]
        identity = conn.execute("""
            SELECT attrelid::regclass::text, attname, attidentity FROM pg_attribute
            WHERE attidentity <> '' AND attrelid::regclass::text NOT LIKE 'heer%' ORDER BY 1""").fetchall()
        assert len(identity) == 10
        assert all(column == f"{table}_id" and kind == "a" for table, column, kind in identity)
        assert conn.execute("""
            SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = confrelid""").fetchall() == [
            ("employee_reports_to_fkey",)]
        # The kept rows are prefixes, so each identity continues where the trimmed data ends.
        assert conn.execute("INSERT INTO track (name, media_type_id, milliseconds, unit_price) "
                            "VALUES ('x', 1, 1, 0.99) RETURNING track_id").fetchone() == (1377,)
        with pytest.raises(psycopg.errors.GeneratedAlways):
            conn.execute("INSERT INTO genre (genre_id, name) VALUES (99, 'x')")
        assert conn.execute("SELECT * FROM track WHERE track_id = 1").fetchone() == (
            1, "For Those About To Rock (We Salute You)", 1, 1, 1, "Angus Young, Malcolm Young, Brian Johnson",
            343719, 11170334, Decimal("0.99"))
        assert conn.execute("SELECT * FROM invoice WHERE invoice_id = 1").fetchone() == (
            1, 2, datetime(2021, 1, 1), "Theodor-Heuss-Straße 34", "Stuttgart", None, "Germany", "70174",
            Decimal("1.98"))


def test_northwind(db_url: str) -> None:
    load_sample("northwind", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert _kinds(conn) == {"r": 14}
        assert _counts(conn) == {
            "categories": 8, "customer_customer_demo": 0, "customer_demographics": 0, "customers": 91,
            "employee_territories": 49, "employees": 9, "order_details": 269, "orders": 100, "products": 77,
            "region": 4, "shippers": 6, "suppliers": 29, "territories": 53, "us_states": 51,
        }
        assert dict(conn.execute(CONSTRAINTS).fetchall()) == {"p": 14, "f": 13, "n": 31}
        assert conn.execute(FK_ACTIONS).fetchall() == [("a", "a", 13)]
        assert dict(conn.execute(COMPOSITE_KEYS).fetchall()) == {
            "customer_customer_demo": ["customer_id", "customer_type_id"],
            "employee_territories": ["employee_id", "territory_id"],
            "order_details": ["order_id", "product_id"]}
        # No key has a default: every key value is written by the application.
        assert conn.execute("""
            SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'heer%'
              AND (a.atthasdef OR a.attidentity <> '')""").fetchone() == (0,)
        assert conn.execute("SELECT * FROM customers WHERE customer_id = 'ALFKI'").fetchone() == (
            "ALFKI", "Alfreds Futterkiste", "Maria Anders", "Sales Representative", "Obere Str. 57", "Berlin",
            None, "12209", "Germany", "030-0074321", "030-0076545")
        # REAL prices: 9.8 is stored as the nearest float4, which shows once widened to float8.
        assert conn.execute("""
            SELECT unit_price::numeric, unit_price::float8 FROM order_details
            WHERE order_id = 10248 AND product_id = 42""").fetchone() == (Decimal("9.8"), 9.800000190734863)
        assert conn.execute("SELECT min(order_date), max(order_date) FROM orders").fetchone() == (
            date(1996, 7, 4), date(1996, 11, 6))


def test_every_shipped_script_is_loaded() -> None:
    shipped = {str(p.relative_to(DATA)) for p in DATA.glob("*/*.sql")}
    assert shipped == {p for paths in SAMPLES.values() for p in paths}
