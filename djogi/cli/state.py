"""The state one ``djogi`` invocation shares between commands: global options, config, output.

The configuration is loaded at most once, when a command first needs it (so ``--help`` and
``version`` work with a broken ``Djogi.toml``). Database URLs come from the configuration, else from
the embedded server at ``<Config.root>/.djogi/pgdata``.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import msgspec
import psycopg
import typer
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from djogi.cli.exits import Refusal, unwrap
from djogi.config import DEFAULT_DATABASE, Config, load_config
from djogi.embedded import EmbeddedServer
from djogi.executor import connect_bounded
from djogi.identifiers import identifier_problem
from djogi.model import ModelDescriptor, models
from djogi.redact import redact
from djogi.schema import pending

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
DatabaseOption = Annotated[str | None, typer.Option("--database", "-d", help="Configured database to act on "
                                                    "[default: the global --database, else main].")]
PIPE_WIDTH = 250
EMBEDDED_MAIN_DATABASE = "postgres"  # the database djogi.connect() uses on the embedded server


class Cli:
    """Global options plus lazily loaded configuration, models and consoles for one invocation."""

    def __init__(self, *, config_path: Path | None = None, database: str | None = None,
                 profile: str | None = None, json: bool = False, verbosity: int = 0) -> None:
        self.config_path = config_path
        self.database_option = database
        self.profile = profile
        self.json = json
        self.verbosity = verbosity
        # Piped output is not cut to 80 columns: tables take the width their content needs.
        self.out = Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
        self.err = Console(stderr=True, soft_wrap=True, highlight=False)
        self.pgdata: Path | None = None
        self._config: Config | None = None
        if verbosity > 0:
            logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
            for handler in logging.getLogger().handlers:
                handler.addFilter(_Redacting(self))

    # -- configuration ---------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The configuration (``--config``, ``$DJOGI_CONFIG`` or the nearest ``Djogi.toml``), loaded once."""
        if self._config is None:
            env = dict(os.environ)
            if self.profile is not None:
                env["DJOGI_PROFILE"] = self.profile
            self._config = unwrap(load_config(self.config_path, env=env))
        return self._config

    def redact(self, text: str) -> str:
        """``text`` with every password of a URL (and of each configured database URL) as ``***``."""
        text = redact(text)
        if self._config is not None:
            for settings in self._config.databases.values():
                if settings.url is not None:
                    text = redact(text, settings.url)
        return text

    def database_name(self, local: str | None = None) -> str:
        """The configured database a command acts on: the command's option, the global one, else main."""
        name = local or self.database_option or DEFAULT_DATABASE
        self.config.database(name)  # raises ConfigError naming the known databases
        return name

    def server(self, port: int | None = None) -> EmbeddedServer:
        """The embedded server: ``--pgdata`` if given, else ``<project root>/.djogi/pgdata`` (ConfigError,
        exit 2, outside a project: no ``Djogi.toml`` found)."""
        return EmbeddedServer(self.pgdata or self.config.embedded_pgdata, port)

    def is_embedded(self, name: str) -> bool:
        """True when database ``name`` has no URL configured, so it lives on the embedded server."""
        return self.config.database(name).url is None

    def url(self, name: str, *, start: bool = True) -> str:
        """The URL of configured database ``name``.

        Without a configured URL it is a database on the embedded server (``postgres`` for main,
        ``<name>`` otherwise): with ``start`` the server is started and the database created if
        needed; without, EmbeddedServerError says the server is down.
        """
        configured = self.config.database(name).url
        if configured is not None:
            return configured
        server = self.server()
        target = EMBEDDED_MAIN_DATABASE if name == DEFAULT_DATABASE else name
        if start:
            server.start()
            with connect_bounded(server.url(), self.config.database(name).operation_timeout, autocommit=True) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone() is None:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
        return server.url(target)

    # -- models ------------------------------------------------------------------------------------

    def load_models(self, *, required: bool = True) -> tuple[ModelDescriptor, ...]:
        """Import the ``[project] models`` modules and return every registered model's descriptor.

        Refuses (exit 2) when a module cannot be imported, when a model still refers to a model that was
        never declared, or, if ``required``, when no model is registered.
        """
        root = str(self.config.root)
        if root not in sys.path:
            sys.path.insert(0, root)
        for module in self.config.project.models:
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise Refusal(f"cannot import models module {module!r} ({error}); check [project] models in "
                              "Djogi.toml and that the module is importable from the project root") from error
        waiting = pending()
        if waiting:
            raise Refusal("; ".join(waiting))
        found = models()
        if required and not found:
            raise Refusal("no models registered: check [project] models in Djogi.toml")
        return found

    def wants_json(self, local: bool) -> bool:
        """True when this command's ``--json`` or the global one was given."""
        self.json = self.json or local
        return self.json

    # -- output --------------------------------------------------------------------------------------

    def info(self, message: str) -> None:
        """A progress or summary line on stdout, unless ``-q`` or ``--json``."""
        if self.verbosity >= 0 and not self.json:
            self.out.print(message, markup=False)

    def warn(self, message: str) -> None:
        """A warning on stderr, unless ``-q``."""
        if self.verbosity >= 0:
            self.err.print(f"[yellow]warning:[/yellow] {message}")

    def emit(self, value: Any) -> None:
        """Print a value as one JSON document on stdout."""
        typer.echo(msgspec.json.encode(value).decode())

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[str], None]]:
        """A progress bar over ``total`` steps on stderr (a terminal only); yields ``advance(label)``."""
        if not self.err.is_terminal or self.json or self.verbosity < 0:
            yield lambda _label: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[step]}"))
        with Progress(*columns, console=self.err, transient=True) as bar:
            task = bar.add_task(description, total=total, step="")

            def advance(label: str) -> None:
                bar.update(task, advance=1, step=label)

            yield advance


class _Redacting(logging.Filter):
    """Rewrites each log record's message with its passwords redacted (``Cli.redact``)."""

    def __init__(self, cli: Cli) -> None:
        super().__init__()
        self.cli = cli

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.cli.redact(record.getMessage()), ()
        return True


def cli_of(ctx: typer.Context) -> Cli:
    """The invocation's state, set by the root callback."""
    state = ctx.find_object(Cli)
    assert state is not None, "the djogi root callback did not run"
    return state


def database_of(url: str) -> str:
    """The database name in a URL's path, checked as a plain identifier before any DDL uses it."""
    name = str(conninfo_to_dict(url).get("dbname", ""))
    problem = identifier_problem(name) if name else "is empty"
    if problem is not None:
        raise Refusal(f"database name {name!r} in the URL {problem}; djogi only drops and creates databases "
                      "whose names are plain identifiers")
    return name


def remote_address(url: str) -> str | None:
    """The first address libpq would connect to for ``url`` that is not this machine, or None when every
    one is local.

    Judged the way libpq fills a connection's options: the URL's own, else the environment's
    (``PGHOST``, ``PGHOSTADDR``: ``PQconndefaults``). Then per host of the list: ``hostaddr`` when given
    (an IP address, which is what libpq connects to), else a unix socket (no host, ``/dir`` or
    ``@abstract``: local), else the host name, every address of which must be a loopback address. A URL
    libpq cannot parse, a service-file entry (``service``, ``PGSERVICE``) and a name that does not
    resolve are not judged local.
    """
    try:
        given = {key: str(value) for key, value in conninfo_to_dict(url).items() if value not in (None, "")}
    except psycopg.ProgrammingError:
        return "a URL libpq cannot parse"
    defaults = {o.keyword.decode(): (o.val or b"").decode() for o in psycopg.pq.Conninfo.get_defaults()}
    options = {key: given.get(key) or defaults.get(key, "") for key in ("service", "host", "hostaddr")}
    if options["service"]:
        return f"service={options['service']} (a service-file entry, which this check does not read)"
    hosts, addrs = options["host"].split(","), options["hostaddr"].split(",")
    for index in range(max(len(hosts), len(addrs))):
        host = hosts[index] if index < len(hosts) else ""
        addr = addrs[index] if index < len(addrs) else ""
        if addr:
            if not _loopback(addr):
                return f"hostaddr={addr}"
        elif host and not host.startswith(("/", "@")) and not _resolves_locally(host):
            return f"host={host}"
    return None


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _resolves_locally(host: str) -> bool:
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(_loopback(str(entry[4][0])) for entry in found)
