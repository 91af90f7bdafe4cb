"""The ``djogi`` typer app: global options, the sub-app registry and the error-to-exit-code boundary."""

from __future__ import annotations

import platform
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from djogi.cli.audit import audit_app
from djogi.cli.db import db_app
from djogi.cli.docs import docs
from djogi.cli.events import events_app
from djogi.cli.exits import EXIT_CODES_HELP, ExitCode, exit_code, is_reportable, translated
from djogi.cli.migrations import migrate_app, migrations_app
from djogi.cli.state import Cli, JsonOption, cli_of
from djogi.embedded import binary_version
from djogi.redact import redact

app = typer.Typer(
    name="djogi",
    help=f"djogi: a model-first PostgreSQL data layer.\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(migrations_app, name="migrations")
app.add_typer(migrate_app, name="migrate")
app.add_typer(db_app, name="db")
app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")
app.command()(docs)

_invocation: list[Cli] = []


class ProfileChoice(StrEnum):
    """The profiles ``--profile`` accepts."""

    dev = "dev"
    test = "test"
    production = "production"


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Djogi.toml to use [default: "
                                                "$DJOGI_CONFIG, else the nearest one upward].")] = None,
    database: Annotated[str | None, typer.Option("--database", help="Configured database to act on "
                                                 "[default: main].")] = None,
    profile: Annotated[ProfileChoice | None, typer.Option(help="Override [project] profile "
                                                          "(DJOGI_ENV=production still wins).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="More output: tracebacks and SQL logging.", show_default=False)] = 0,
    quiet: Annotated[int, typer.Option("--quiet", "-q", count=True, help="Less output.", show_default=False)] = 0,
) -> None:
    """Global options; they go before the command, e.g. ``djogi --json migrations status``."""
    state = Cli(config_path=config, database=database, profile=profile.value if profile else None,
                json=as_json, verbosity=verbose - quiet)
    _invocation.append(state)
    ctx.obj = state


@app.command()
def version(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the versions of djogi, Python and the bundled PostgreSQL server."""
    from importlib.metadata import version as dist_version

    info = {"djogi": dist_version("djogi"), "python": platform.python_version(), "postgresql": binary_version()}
    if cli_of(ctx).wants_json(as_json):
        cli_of(ctx).emit(info)
    else:
        typer.echo(f"djogi {info['djogi']} (Python {info['python']}, PostgreSQL {info['postgresql']})")


def report(error: BaseException, code: ExitCode) -> None:
    """Show a command's error: one line on stderr (a traceback with ``-v``), JSON too with ``--json``."""
    state = _invocation[-1] if _invocation else None
    err = state.err if state else Console(stderr=True, soft_wrap=True, highlight=False)
    if state is not None and state.verbosity > 0:
        err.print(state.redact("".join(traceback.format_exception(error))), markup=False)
    label = "[red]refused:[/red]" if code == ExitCode.REFUSED else "[red]error:[/red]"
    message = state.redact(str(error)) if state is not None else redact(str(error))
    err.print(f"{label} {escape(message)}")
    if state is not None and state.json:
        state.emit({"error": message, "exit_code": int(code)})


def main() -> None:
    """Console-script entry point; see ``djogi --help`` for the exit codes."""
    try:
        app()
    except Exception as raised:
        error = translated(raised)
        if not is_reportable(error):
            raise
        code = exit_code(error)
        report(error, code)
        sys.exit(code)
