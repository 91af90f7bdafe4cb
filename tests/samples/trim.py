"""Rebuild the trimmed sample data from the original files (see each sample's SOURCE.md).

    python -m tests.samples.trim pagila ORIGINAL/pagila-data.sql > "$DJOGI_SAMPLES"/pagila/pagila-data.sql
    python -m tests.samples.trim chinook ORIGINAL/Chinook_PostgreSql_AutoIncrementPKs.sql \\
        > "$DJOGI_SAMPLES"/chinook/Chinook_PostgreSql_AutoIncrementPKs.sql
    python -m tests.samples.trim northwind ORIGINAL/northwind.sql > "$DJOGI_SAMPLES"/northwind/northwind.sql

Only data rows are removed; every other line (schema, comments, SET, setval) is kept as it is, and the
rows kept are byte-for-byte the original ones. The subsets are closed under every foreign key.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.samples.load import Copy, Part, render, split_script

PAGILA_FILMS = 100  # film_id <= 100
PAGILA_CUSTOMERS = 100  # customer_id <= 100
CHINOOK_INVOICES = 40  # invoice_id <= 40 (identity: the first 40 rows inserted)
NORTHWIND_LAST_ORDER = 10347  # the first 100 orders

Rows = list[dict[str, str]]


def _copy_table(copy: Copy) -> tuple[str, Rows]:
    match = re.match(r"COPY public\.(\w+) \(([^)]*)\) FROM stdin;", copy.statement)
    assert match is not None, copy.statement
    columns = match.group(2).split(", ")
    return match.group(1), [dict(zip(columns, line.split("\t"), strict=True)) for line in copy.data.splitlines()]


def _pagila_keep(tables: dict[str, Rows]) -> dict[str, set[str]]:
    """The key values kept per table: films and customers up to the limits, their rentals, and the closure."""
    films = {r["film_id"] for r in tables["film"] if int(r["film_id"]) <= PAGILA_FILMS}
    customers = {r["customer_id"] for r in tables["customer"] if int(r["customer_id"]) <= PAGILA_CUSTOMERS}
    inventory = {r["inventory_id"]: r for r in tables["inventory"] if r["film_id"] in films}
    rentals = [r for r in tables["rental"] if r["inventory_id"] in inventory and r["customer_id"] in customers]
    rental_ids = {r["rental_id"] for r in rentals}
    payments = [r for name, rows in tables.items() if name.startswith("payment_") for r in rows
                if r["rental_id"] in rental_ids and r["customer_id"] in customers]
    staff = {r["staff_id"] for r in rentals} | {r["staff_id"] for r in payments}
    stores = {r["store_id"] for r in tables["customer"] if r["customer_id"] in customers}
    stores |= {r["store_id"] for r in inventory.values()}
    manager = {r["store_id"]: r["manager_staff_id"] for r in tables["store"]}
    store_of = {r["staff_id"]: r["store_id"] for r in tables["staff"]}
    while True:  # stores need their managers (unique, no FK), staff need their stores (FK)
        grown_staff = staff | {manager[s] for s in stores}
        grown_stores = stores | {store_of[s] for s in grown_staff}
        if (grown_staff, grown_stores) == (staff, stores):
            break
        staff, stores = grown_staff, grown_stores
    addresses = {r["address_id"] for name, key, keep in (("customer", "customer_id", customers),
                                                           ("staff", "staff_id", staff), ("store", "store_id", stores))
                 for r in tables[name] if r[key] in keep}
    cities = {r["city_id"] for r in tables["address"] if r["address_id"] in addresses}
    return {"film": films, "customer": customers, "inventory": set(inventory), "rental": rental_ids,
            "payment": {r["payment_id"] for r in payments}, "staff": staff, "store": stores,
            "address": addresses, "city": cities}


def _pagila_row_kept(table: str, row: dict[str, str], keep: dict[str, set[str]]) -> bool:
    table = "payment" if table.startswith("payment_") else table
    if table in ("film_actor", "film_category"):
        return row["film_id"] in keep["film"]
    return table not in keep or row[f"{table}_id"] in keep[table]


def trim_pagila(text: str) -> str:
    """pagila-data.sql with only the kept rows in each COPY block."""
    parts = split_script(text)
    tables = dict(_copy_table(p) for p in parts if isinstance(p, Copy))
    keep = _pagila_keep(tables)
    out: list[Part] = []
    for part in parts:
        if isinstance(part, Copy):
            table, rows = _copy_table(part)
            lines = part.data.splitlines(keepends=True)
            part = Copy(part.statement, "".join(line for line, row in zip(lines, rows, strict=True)
                                                if _pagila_row_kept(table, row, keep)))
        out.append(part)
    return render(out)


def _ints(row: str, n: int) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", row)[:n]]


def trim_chinook(text: str) -> str:
    """The chinook script with invoices 1..40, their lines, the tracks 1..T they need (a prefix, so the
    identity values stay those of the original) and the playlist entries of those tracks."""
    blocks = re.split(r"(?m)^(INSERT INTO \w+ \([^)]*\) VALUES\n(?:    \(.*\n)+)", text)
    rows_of: dict[str, list[str]] = {}
    for block in blocks[1::2]:
        table = block.split()[2]
        rows_of.setdefault(table, []).extend(block.splitlines()[1:])
    lines = [_ints(r, 2) for r in rows_of["invoice_line"]]
    kept_lines = sum(1 for invoice, _ in lines if invoice <= CHINOOK_INVOICES)
    assert all(invoice > CHINOOK_INVOICES for invoice, _ in lines[kept_lines:]), "lines not ordered by invoice"
    tracks = max(track for _, track in lines[:kept_lines])
    limit = {"invoice": CHINOOK_INVOICES, "invoice_line": kept_lines, "track": tracks}
    taken: dict[str, int] = {}
    out = [blocks[0]]
    for block, after in zip(blocks[1::2], blocks[2::2], strict=True):
        header, *rows = block.splitlines()
        table = header.split()[2]
        if table == "playlist_track":
            rows = [r for r in rows if _ints(r, 2)[1] <= tracks]
        elif table in limit:
            rows = rows[:max(0, limit[table] - taken.get(table, 0))]
            taken[table] = taken.get(table, 0) + len(rows)
        if rows:
            rows[-1] = rows[-1][:-1] + ";"
            out.append("\n".join([header, *rows]) + "\n")
        out.append(after if rows or not after.startswith("\n") else after[1:])
    return "".join(out)


def trim_northwind(text: str) -> str:
    """northwind.sql without the orders after NORTHWIND_LAST_ORDER and their order_details."""
    def kept(line: str) -> bool:
        match = re.match(r"INSERT INTO (?:orders|order_details) VALUES \((\d+),", line)
        return match is None or int(match.group(1)) <= NORTHWIND_LAST_ORDER

    return "".join(line for line in text.splitlines(keepends=True) if kept(line))


if __name__ == "__main__":
    trim = {"pagila": trim_pagila, "chinook": trim_chinook, "northwind": trim_northwind}[sys.argv[1]]
    sys.stdout.write(trim(Path(sys.argv[2]).read_text(encoding="utf-8")))
