"""``djogi events run``: deliver the outbox events of the project's models to handlers until stopped."""

from __future__ import annotations

import importlib
import signal
from collections.abc import Mapping
from typing import Annotated, Any

import anyio
import anyio.abc
import typer
from rich.live import Live

from djogi.cli.exits import EXIT_CODES_HELP, Refusal
from djogi.cli.state import Cli, DatabaseOption, cli_of
from djogi.events import Handler, Worker
from djogi.executor import Database, connect
from djogi.loop import run as run_loop
from djogi.model import Model

events_app = typer.Typer(help=f"Change events from the transactional outbox.\n\n{EXIT_CODES_HELP}",
                         no_args_is_help=True)  # fmt: skip


def load_handlers(target: str) -> dict[type[Model[Any]], Handler]:
    """The ``{Model: handler}`` mapping ``module:attribute`` names; Refusal when it is not one."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise Refusal(f"handlers must be given as module:attribute (a {{Model: handler}} dict), not {target!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise Refusal(f"cannot import {module_name!r}: {exc}") from exc
    handlers = getattr(module, attribute, None)
    if not isinstance(handlers, Mapping) or not handlers:
        raise Refusal(f"{target} must be a non-empty {{Model: handler}} dict, not {type(handlers).__name__}")
    return dict(handlers)


def _summary(workers: list[Worker]) -> str:
    delivered, retried, failed = (sum(getattr(w, n) for w in workers) for n in ("delivered", "retried", "failed"))
    return f"delivered {delivered}, retried {retried}, failed {failed}"


async def _run(cli: Cli, url: str, database: str, handlers: dict[type[Model[Any]], Handler], options: dict[str, Any],
               workers: int, bypass: bool) -> list[Worker]:  # fmt: skip
    async with connect(url, database=database, max_size=workers + 2) as db:
        source: Database = db.insecurely() if bypass else db
        running = [Worker(source, handlers, **options) for _ in range(workers)]
        await running[0].check()
        live = Live(_summary(running), console=cli.err, transient=True) if cli.err.is_terminal and \
            cli.verbosity >= 0 and not cli.json else None  # fmt: skip
        if live is not None:
            for w in running:
                w.on_progress = lambda _w: live.update(_summary(running))
        async with anyio.create_task_group() as tg:

            async def on_signals(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
                    task_status.started()
                    async for signum in received:
                        if all(w.stopping for w in running):
                            tg.cancel_scope.cancel()  # a second signal: stop at once
                        cli.info(f"{signal.Signals(signum).name}: finishing the events in hand, then stopping")
                        for w in running:
                            w.stop()

            await tg.start(on_signals)
            names = ", ".join(m.__name__ for m in handlers)
            cli.info(f"delivering the events of {names} with {workers} worker(s); SIGINT or SIGTERM stops")
            if live is not None:
                live.start()
            try:
                async with anyio.create_task_group() as inner:
                    for w in running:
                        inner.start_soon(w.run)
            finally:
                if live is not None:
                    live.stop()
            tg.cancel_scope.cancel()
        return running


@events_app.command("run")
def run(
    ctx: typer.Context,
    handlers: Annotated[str, typer.Argument(help="module:attribute naming a {Model: handler} dict.")],
    database: DatabaseOption = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Concurrent workers in this process.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Events claimed per table at a time.")] = 100,
    lease: Annotated[float, typer.Option(min=0.001, help="Seconds a claimed batch stays leased.")] = 30.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts before an event is failed.")] = 5,
    backoff: Annotated[float, typer.Option(min=0.001, help="Seconds before the first retry (doubling).")] = 1.0,
    poll: Annotated[float, typer.Option(min=0.001, help="Seconds between polls without a notification.")] = 5.0,
    bypass_rls: Annotated[bool, typer.Option("--bypass-rls", help="Read tenant-keyed events through "
                                             "db.insecurely() (the BYPASSRLS role).")] = False,
) -> None:
    """Deliver events until SIGINT or SIGTERM: the event in hand is finished, the rest of its batch is
    released for other workers (a second signal stops at once; leased events are then delivered again
    after their lease)."""
    cli = cli_of(ctx)
    cli.load_models(required=False)
    found = load_handlers(handlers)
    name = cli.database_name(database)
    url = cli.url(name)
    options = {"batch_size": batch_size, "lease": lease, "max_attempts": max_attempts, "backoff": backoff,
               "poll": poll}  # fmt: skip
    running = run_loop(_run(cli, url, name, found, options, workers, bypass_rls))
    if cli.wants_json(False):
        cli.emit({n: sum(getattr(w, n) for w in running) for n in ("delivered", "retried", "failed")})
    else:
        cli.info(_summary(running))
