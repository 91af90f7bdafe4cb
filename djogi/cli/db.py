"""``djogi db``: manage the embedded PostgreSQL server (``up``, ``down``, ``url``, ``status``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from djogi.embedded import EmbeddedServer, default_pgdata
from djogi.errors import EmbeddedServerError

db_app = typer.Typer(help="Manage the embedded PostgreSQL server.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PgdataOption = Annotated[
    Path | None,
    typer.Option("--pgdata", help="Data directory [default: .djogi/pgdata in the project root]."),
]


def server_for(pgdata: Path | None, port: int | None = None) -> EmbeddedServer:
    """The server the db commands act on. The single place where Djogi.toml settings will plug in."""
    return EmbeddedServer(pgdata or default_pgdata(), port)


@contextmanager
def _runtime_failures() -> Iterator[None]:
    """Turn an EmbeddedServerError into a red message on stderr and exit code 1."""
    try:
        yield
    except EmbeddedServerError as e:
        err.print(f"[red]error:[/red] {e}", markup=True, highlight=False)
        raise typer.Exit(1) from None


@db_app.command()
def up(
    pgdata: PgdataOption = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="TCP port [default: remembered, "
                                                                      "else a free one].")] = None,
) -> None:
    """Start the server (creating its data directory on first use); reuse it when already running."""
    server = server_for(pgdata, port)
    with _runtime_failures():
        status = server.start()
        url = server.url()
    out.print(f"PostgreSQL {status.version} is up (pid {status.pid}, data {status.pgdata})", highlight=False)
    out.print(url, highlight=False)


@db_app.command()
def down(pgdata: PgdataOption = None) -> None:
    """Stop the server (fast shutdown)."""
    server = server_for(pgdata)
    with _runtime_failures():
        stopped = server.stop()
    out.print("stopped" if stopped else f"not running ({server.pgdata})", highlight=False)


@db_app.command()
def url(
    pgdata: PgdataOption = None,
    database: Annotated[str, typer.Option("--database", "-d", help="Database name.")] = "postgres",
) -> None:
    """Print the connection URL of the running server (exit 1 when it is down)."""
    with _runtime_failures():
        typer.echo(server_for(pgdata).url(database))


@db_app.command()
def status(
    pgdata: PgdataOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show whether the server is running, with its pid, port, socket directory and version."""
    current = server_for(pgdata).status()
    if as_json:
        typer.echo(msgspec.json.encode(current).decode())
        return
    table = Table(show_header=False, box=None)
    for field in current.__struct_fields__:
        value = getattr(current, field)
        table.add_row(field, "-" if value is None else str(value))
    out.print(table)
