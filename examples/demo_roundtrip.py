"""Start the project's embedded PostgreSQL, round-trip a row through a table, print the version.

Run with ``make demo``. The server keeps running afterwards (``djogi db down`` stops it).
"""

from __future__ import annotations

import psycopg

from djogi.embedded import EmbeddedServer, default_pgdata


def main() -> None:
    server = EmbeddedServer(default_pgdata())
    status = server.start()
    print(f"embedded server: pid {status.pid}, data {status.pgdata}")
    print(f"url: {server.url()}")
    with psycopg.connect(server.url()) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS demo_greeting (id serial PRIMARY KEY, text text NOT NULL)")
        inserted = conn.execute("INSERT INTO demo_greeting (text) VALUES (%s) RETURNING id, text",
                                ["hello, djogi"]).fetchone()
        assert inserted is not None
        fetched = conn.execute("SELECT id, text FROM demo_greeting WHERE id = %s", [inserted[0]]).fetchone()
        assert fetched == inserted, (fetched, inserted)
        print(f"round trip: wrote {inserted}, read back {fetched}")
        conn.execute("DELETE FROM demo_greeting WHERE id = %s", [inserted[0]])
        version = conn.execute("SHOW server_version").fetchone()
    assert version is not None
    print(f"PostgreSQL {version[0]}")


if __name__ == "__main__":
    main()
