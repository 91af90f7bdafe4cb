"""``djogi audit ship``: move the audit trail from the main database's buffer to the crud_log database."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from djogi.audit import ShipBatch, drain, run
from djogi.cli.exits import EXIT_CODES_HELP, Refusal
from djogi.cli.state import JsonOption, cli_of
from djogi.config import DEFAULT_DATABASE
from djogi.errors import DjogiError

audit_app = typer.Typer(help=f"The audit trail of models declared with audit=.\n\n{EXIT_CODES_HELP}",
                        no_args_is_help=True)

LOG_DATABASE = "crud_log"


@contextmanager
def _stopping() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (the handlers restored on exit): a graceful shutdown."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@audit_app.command()
def ship(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 500,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between looks at an empty buffer.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Ship what is buffered now, then exit (exit 1 if a "
                                                      "database cannot be reached).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ship audit rows from main's djogi_audit buffer to the crud_log database, in order and without
    duplicates, until SIGINT/SIGTERM (the batch in flight completes) or, with --once, until the buffer is
    empty. A database that is down is waited for; nothing leaves the buffer meanwhile. Refused (exit 2)
    when no crud_log database is configured: the audit rows then stay in the main database."""
    cli = cli_of(ctx)
    if LOG_DATABASE not in cli.config.databases:
        raise Refusal("no crud_log database is configured ([database.crud_log] in Djogi.toml, or CRUD_LOG_URL "
                      "with it declared): audit rows stay in the main database's djogi_audit table, nothing to "
                      "ship")  # fmt: skip
    source, target = cli.url(DEFAULT_DATABASE), cli.url(LOG_DATABASE)
    timeout = cli.config.database(DEFAULT_DATABASE).operation_timeout

    def shipped(done: ShipBatch) -> None:
        cli.info(f"shipped {done.rows} audit row(s), ids {done.first_id}..{done.last_id}")

    def outage(error: DjogiError, delay: float) -> None:
        cli.warn(f"{cli.redact(str(error))}; retrying in {delay:.1f} s (nothing leaves the buffer meanwhile)")

    if once:
        report = drain(source, target, batch=batch, operation_timeout=timeout, on_batch=shipped)
    else:
        cli.info("shipping audit rows to crud_log; stop with Ctrl-C (or SIGTERM)")
        with _stopping() as stop:
            report = run(source, target, stop=stop, batch=batch, poll=poll, operation_timeout=timeout,
                         on_batch=shipped, on_outage=outage)  # fmt: skip
    if cli.wants_json(as_json):
        cli.emit(report)
    else:
        cli.info(f"done: {report.rows} row(s) in {report.batches} batch(es), last id {report.last_id}, "
                 f"{report.outages} outage(s)")
