"""Project configuration: ``Djogi.toml``, then environment overrides, then defaults.

``load_config`` is pure apart from reading the file and the environment: it never raises for bad
input, it returns ``Failure(ConfigError)`` whose message names the file or environment variable,
the key path and what was expected, e.g.
``Djogi.toml: database.main.pool_max: expected int >= 1, got "ten"``.

Environment overrides (an empty value counts as unset; where several variables feed one key, the
first one set wins):

- ``DJOGI_CONFIG``: the file to load instead of searching upward (``load_config(path)`` beats it);
- ``DJOGI_PROFILE`` -> ``project.profile``; ``DJOGI_ENV=production`` (any case) forces the production
  profile, whatever else says otherwise (it can only tighten);
- ``DJOGI_NODE_ID``, ``HEER_NODE_ID`` -> ``project.node_id``;
- ``DJOGI_MODELS`` (comma-separated) -> ``project.models``;
- ``DJOGI_MIGRATIONS_DIR`` -> ``project.migrations``; ``DJOGI_SEEDS_DIR`` -> ``project.seeds``;
- ``DJOGI_DATABASE_URL_<NAME>`` -> ``database.<name>.url``; the database must be declared (``main``
  always is); then ``DJOGI_DATABASE_URL``, ``DATABASE_URL`` for ``main``, ``CRUD_LOG_URL``,
  ``DJOGI_CRUD_LOG_URL`` for ``crud_log`` and ``EVENT_LOG_URL`` for ``event_log``;
- ``DJOGI_POOL_MIN``, ``DJOGI_POOL_MAX``, ``DJOGI_POOL_TIMEOUT``, ``DJOGI_OPERATION_TIMEOUT``,
  ``DJOGI_PREPARE`` (true/false, 1/0, yes/no, on/off) -> the same keys of ``database.main``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta, Struct
from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict
from returns.result import Failure, Result, Success

from djogi.errors import ConfigError
from djogi.redact import redact

CONFIG_FILENAME: Final = "Djogi.toml"
DEFAULT_DATABASE: Final = "main"

_S = typing.TypeVar("_S", bound=Struct)
Profile = Literal["dev", "test", "production"]
KeyPath = tuple[str | int, ...]

_NonEmpty = Annotated[str, Meta(min_length=1)]
_DATABASE_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_URL_PREFIX: Final = re.compile(r"(postgres(?:ql)?://[^/?#]*)(?:/[^?#]*)?(.*)", re.DOTALL)
_TOML_POSITION: Final = re.compile(r"(.*) \(at (line \d+, column \d+|end of document)\)", re.DOTALL)
_MSGSPEC_ERROR: Final = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<where>[^`]*)`)?", re.DOTALL)
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})


class ProjectConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[project]``: model modules, migration/seed directories, profile and HeeRanjID node.

    ``migrations`` and ``seeds`` (from the file or the environment) are relative to the directory
    holding ``Djogi.toml``, or to the working directory when there is no file; absolute paths stay.
    ``node_id`` is ``None`` when not configured: identity-bearing commands must then be told one.
    """

    models: tuple[_NonEmpty, ...] = ()
    migrations: _NonEmpty = "migrations"
    seeds: _NonEmpty = "seeds"
    profile: Profile = "dev"
    node_id: Annotated[int, Meta(ge=0, le=511)] | None = None


DEFAULT_OPERATION_TIMEOUT = 300.0  # seconds


class DatabaseConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``[database.<name>]``: where one database lives and how its pool behaves.

    ``url`` is ``None`` for the embedded server. A database other than ``main`` that omits ``url``
    gets main's URL with the path replaced by ``/<name>``. ``apps`` is ``None`` when the database
    does not claim particular model apps. ``prepare = false`` suits PgBouncer transaction mode.
    ``operation_timeout`` (seconds, 0 = no bound) bounds every wait on the server: one statement's
    result, one COPY chunk, a COMMIT; past it the connection is closed and ``ConnectionFailure`` raised.
    The migration runner, ``db reset`` and ``db seed`` use the same bound (and the same TCP keepalives).
    """

    url: str | None = None
    pool_min: Annotated[int, Meta(ge=0)] = 1
    pool_max: Annotated[int, Meta(ge=1)] = 10
    pool_timeout: Annotated[float, Meta(gt=0)] = 30.0
    operation_timeout: Annotated[float, Meta(ge=0)] = DEFAULT_OPERATION_TIMEOUT
    prepare: bool = True
    apps: tuple[_NonEmpty, ...] | None = None


class Config(Struct, frozen=True, kw_only=True):
    """The loaded configuration. ``databases`` always holds ``"main"``; ``source`` is the file read."""

    root: Path
    source: Path | None
    project: ProjectConfig
    databases: Mapping[str, DatabaseConfig]

    def database(self, name: str = DEFAULT_DATABASE) -> DatabaseConfig:
        """Return the named database's settings; raise ``ConfigError`` listing the known names."""
        try:
            return self.databases[name]
        except KeyError:
            raise ConfigError(
                f"unknown database {name!r}; known databases: {', '.join(self.databases)}"
                + _suggestion(name, self.databases)
            ) from None

    @property
    def migrations_dir(self) -> Path:
        """Absolute directory of migration buckets."""
        return self.root / self.project.migrations

    @property
    def seeds_dir(self) -> Path:
        """Absolute directory of seed files."""
        return self.root / self.project.seeds

    def project_file(self) -> Path:
        """The ``Djogi.toml`` that was read; ConfigError naming it when none was found (not a project)."""
        if self.source is None:
            raise ConfigError(
                f"no {CONFIG_FILENAME} in {self.root} or any parent directory: this is not a djogi project. Run "
                f"from your project root, pass --config (or set DJOGI_CONFIG), or create {CONFIG_FILENAME} there "
                "(an empty file will do)"
            )
        return self.source

    @property
    def embedded_pgdata(self) -> Path:
        """The embedded server's data directory, ``<root>/.djogi/pgdata``.

        Raises ConfigError (``project_file``) when no ``Djogi.toml`` was found: a directory that is not a
        project never gets a cluster of its own by accident.
        """
        try:
            return self.project_file().parent / ".djogi" / "pgdata"
        except ConfigError as error:
            raise ConfigError(
                f"{error}; no database URL is configured either, so there is no server to use: give one "
                "(DJOGI_DATABASE_URL, [database.main] url, connect(url=...)) or run inside the project, whose "
                "embedded server keeps its data in .djogi/pgdata next to Djogi.toml"
            ) from None

    @property
    def is_production(self) -> bool:
        """True when the profile is ``production`` (destructive commands refuse to run)."""
        return self.project.profile == "production"


_TYPE_NAMES: Final[Mapping[type[msgspec.inspect.Type], str]] = {
    msgspec.inspect.IntType: "int",
    msgspec.inspect.FloatType: "float",
    msgspec.inspect.StrType: "str",
    msgspec.inspect.BoolType: "bool",
    msgspec.inspect.DictType: "table",
    msgspec.inspect.StructType: "table",
}


class _FileShape(Struct, frozen=True, forbid_unknown_fields=True):
    project: dict[str, Any] = {}
    database: dict[str, Any] = {}


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Result[Config, ConfigError]:
    """Load ``path``, else ``$DJOGI_CONFIG``, else the nearest ``Djogi.toml`` upward from ``cwd``.

    No file at all yields the defaults (``source is None``, ``root == cwd``). ``env`` defaults to
    ``os.environ``. Returns ``Failure(ConfigError)`` for every unreadable or invalid input.
    """
    try:
        return Success(_load(path, os.environ if env is None else env, (cwd or Path.cwd()).resolve()))
    except ConfigError as error:
        return Failure(error)


def _load(path: Path | None, env: Mapping[str, str], cwd: Path) -> Config:
    source = _locate(path, env, cwd)
    label = _label(source, cwd) if source else "environment"
    shape = _convert(_read(source, label) if source else {}, _FileShape, (), lambda _: label)
    project_raw = dict(shape.project)
    databases_raw: dict[str, dict[str, Any]] = {DEFAULT_DATABASE: {}}
    for name, entry in shape.database.items():
        if not _DATABASE_NAME.fullmatch(name):
            raise ConfigError(
                f"{label}: database.{name}: expected a database name matching "
                f"{_DATABASE_NAME.pattern}, got {_show(name)}"
            )
        if not isinstance(entry, dict):
            raise ConfigError(f"{label}: database.{name}: expected table, got {_show(entry)}")
        databases_raw[name] = dict(entry)

    origins = _apply_env(env, project_raw, databases_raw)

    def blame(key_path: KeyPath) -> str:
        for end in range(len(key_path), 0, -1):
            if key_path[:end] in origins:
                return origins[key_path[:end]]
        return label

    project = _convert(project_raw, ProjectConfig, ("project",), blame)
    if env.get("DJOGI_ENV", "").casefold() == "production":
        project = msgspec.structs.replace(project, profile="production")
    for index, module in enumerate(project.models):
        if not all(part.isidentifier() for part in module.split(".")):
            key_path: KeyPath = ("project", "models", index)
            raise ConfigError(
                f"{blame(key_path)}: {_dotted(key_path)}: expected a dotted module name, got {_show(module)}"
            )
    databases = {
        name: _check_database(name, _convert(raw, DatabaseConfig, ("database", name), blame), blame)
        for name, raw in databases_raw.items()
    }
    _check_apps(databases, blame)
    main_url = databases[DEFAULT_DATABASE].url
    if main_url is not None:
        databases = {
            name: db if db.url is not None else msgspec.structs.replace(db, url=_splice(main_url, name))
            for name, db in databases.items()
        }
    return Config(
        root=source.parent if source else cwd,
        source=source,
        project=project,
        databases=MappingProxyType(databases),
    )


def _locate(path: Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The file to read: explicit path, ``$DJOGI_CONFIG`` (must exist), or the nearest upward."""
    if path is not None:
        return (cwd / path).resolve()
    named = env.get("DJOGI_CONFIG")
    if named:
        if not (cwd / named).is_file():
            raise ConfigError(f"DJOGI_CONFIG: expected an existing file, got {_show(named)}")
        return (cwd / named).resolve()
    return next(
        (d / CONFIG_FILENAME for d in (cwd, *cwd.parents) if (d / CONFIG_FILENAME).exists()),
        None,
    )


def _label(source: Path, cwd: Path) -> str:
    try:
        return str(source.relative_to(cwd))
    except ValueError:
        return str(source)


def _read(source: Path, label: str) -> dict[str, Any]:
    """Decode the TOML file; raise ``ConfigError`` when unreadable, not UTF-8 or not TOML."""
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{label}: expected UTF-8 text, got byte 0x{error.object[error.start]:02x} at offset {error.start}"
        ) from None
    except OSError as error:
        raise ConfigError(f"{label}: expected a readable file, got {type(error).__name__}: {error.strerror}") from None
    try:
        decoded: dict[str, Any] = msgspec.toml.decode(text)
    except msgspec.DecodeError as error:
        match = _TOML_POSITION.fullmatch(str(error))
        where, reason = (f"{match.group(2)}: ", match.group(1)) if match else ("", str(error))
        raise ConfigError(f"{label}: {where}expected valid TOML, got a syntax error: {reason}") from None
    return decoded


_Parse = Callable[[str], object]
_URL_FALLBACKS: Final[Mapping[str, tuple[str, ...]]] = {
    "main": ("DJOGI_DATABASE_URL", "DATABASE_URL"),
    "crud_log": ("CRUD_LOG_URL", "DJOGI_CRUD_LOG_URL"),
    "event_log": ("EVENT_LOG_URL",),
}


def _apply_env(
    env: Mapping[str, str], project: dict[str, Any], databases: dict[str, dict[str, Any]]
) -> dict[KeyPath, str]:
    """Write environment overrides into the raw tables; return which variable set each key path."""
    origins: dict[KeyPath, str] = {}

    def override(names: tuple[str, ...], table: dict[str, Any], key_path: KeyPath, parse: _Parse) -> None:
        name = next((n for n in names if env.get(n)), None)
        if name is not None:
            table[str(key_path[-1])] = parse(env[name])
            origins[key_path] = name

    override(("DJOGI_PROFILE",), project, ("project", "profile"), str)
    override(("DJOGI_NODE_ID", "HEER_NODE_ID"), project, ("project", "node_id"), _int)
    override(("DJOGI_MODELS",), project, ("project", "models"), _csv)
    override(("DJOGI_MIGRATIONS_DIR",), project, ("project", "migrations"), str)
    override(("DJOGI_SEEDS_DIR",), project, ("project", "seeds"), str)
    main = databases[DEFAULT_DATABASE]
    for key, parse in (("pool_min", _int), ("pool_max", _int), ("pool_timeout", _float),
                       ("operation_timeout", _float), ("prepare", _bool)):
        override((f"DJOGI_{key.upper()}",), main, ("database", DEFAULT_DATABASE, key), parse)

    prefix = "DJOGI_DATABASE_URL_"
    for var in sorted(v for v in env if v.startswith(prefix) and env[v]):
        name = var.removeprefix(prefix).lower()
        if name not in databases:
            raise ConfigError(
                f"{var}: database.{name}: expected a database declared in {CONFIG_FILENAME} "
                f"({', '.join(databases)}), got {_show(name)}" + _suggestion(name, databases)
            )
    for name, table in databases.items():
        fallbacks = _URL_FALLBACKS.get(name, ())
        override((f"{prefix}{name.upper()}", *fallbacks), table, ("database", name, "url"), str)
    return origins


def _int(text: str) -> object:
    """An int when the text is one; otherwise the text, for validation to reject."""
    try:
        return int(text.strip())
    except ValueError:
        return text


def _float(text: str) -> object:
    try:
        return float(text.strip())
    except ValueError:
        return text


def _bool(text: str) -> object:
    word = text.strip().lower()
    return True if word in _TRUE else False if word in _FALSE else text


def _csv(text: str) -> object:
    return [part.strip() for part in text.split(",")]


def _convert(raw: object, kind: type[_S], prefix: KeyPath, blame: Callable[[KeyPath], str]) -> _S:
    """Validate ``raw`` as ``kind``; raise ``ConfigError`` in the ``source: key.path: expected ...`` form."""
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as error:
        match = _MSGSPEC_ERROR.fullmatch(str(error))
        assert match is not None  # the pattern matches any text
        what = match.group("what")
        relative: KeyPath = tuple(
            int(index) if index else name
            for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", match.group("where") or "")
        )
        fields = [field.name for field in msgspec.structs.fields(kind)]
        unknown = re.fullmatch(r"Object contains unknown field `(.*)`", what)
        if unknown:
            key = unknown.group(1)
            key_path = (*prefix, *relative, key)
            raise ConfigError(
                f"{blame(key_path)}: {_dotted(key_path)}: expected one of the keys {', '.join(fields)}, "
                f"got unknown key {_show(key)}" + _suggestion(key, fields)
            ) from None
        key_path = (*prefix, *relative)
        value = _lookup(raw, relative)
        shown = _redact(value) if key_path[-1:] == ("url",) and isinstance(value, str) else _show(value)
        expected = _expectation(kind, relative) or what[:1].lower() + what[1:]
        raise ConfigError(f"{blame(key_path)}: {_dotted(key_path)}: expected {expected}, got {shown}") from None


def _expectation(kind: type[Struct], relative: KeyPath) -> str | None:
    """Describe the type declared at ``relative`` inside ``kind`` ("int >= 1"), if the path leads to one."""
    node: msgspec.inspect.Type = msgspec.inspect.type_info(kind)
    for part in relative:
        if isinstance(node, msgspec.inspect.UnionType):
            node = next(t for t in node.types if not isinstance(t, msgspec.inspect.NoneType))
        if isinstance(node, msgspec.inspect.StructType) and isinstance(part, str):
            node = next((field.type for field in node.fields if field.name == part), msgspec.inspect.AnyType())
        elif isinstance(node, msgspec.inspect.VarTupleType | msgspec.inspect.ListType):
            node = node.item_type
        else:
            return None
    return _describe(node)


def _describe(node: msgspec.inspect.Type) -> str:
    """A short English rendering of a msgspec type and its constraints."""
    if isinstance(node, msgspec.inspect.UnionType):
        return " or ".join(_describe(t) for t in node.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(node, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        name = _TYPE_NAMES[type(node)]
        if node.ge is not None and node.le is not None:
            return f"{name} from {node.ge} to {node.le}"
        bounds = ((">", node.gt), (">=", node.ge), ("<", node.lt), ("<=", node.le))
        limits = " and ".join(f"{op} {bound}" for op, bound in bounds if bound is not None)
        return f"{name} {limits}".rstrip()
    if isinstance(node, msgspec.inspect.StrType) and node.min_length:
        return "non-empty str"
    if isinstance(node, msgspec.inspect.LiteralType):
        return "one of " + ", ".join(_show(value) for value in node.values)
    if isinstance(node, msgspec.inspect.VarTupleType | msgspec.inspect.ListType):
        return f"array of {_describe(node.item_type)}"
    return _TYPE_NAMES.get(type(node), type(node).__name__)


def _lookup(raw: object, relative: KeyPath) -> object:
    for part in relative:
        if isinstance(raw, dict) and isinstance(part, str):
            raw = raw.get(part)
        elif isinstance(raw, list | tuple) and isinstance(part, int) and part < len(raw):
            raw = raw[part]
    return raw


def _check_database(name: str, db: DatabaseConfig, blame: Callable[[KeyPath], str]) -> DatabaseConfig:
    """Check the URL and the pool bounds; raise ``ConfigError`` naming the offending key."""
    if db.url is not None:
        problem = _url_problem(db.url)
        if problem:
            key_path: KeyPath = ("database", name, "url")
            raise ConfigError(f"{blame(key_path)}: {_dotted(key_path)}: expected {problem}, got {_redact(db.url)}")
    if db.pool_min > db.pool_max:
        max_path: KeyPath = ("database", name, "pool_max")
        min_path: KeyPath = ("database", name, "pool_min")
        file_label = blame(())
        if blame(min_path) == file_label != blame(max_path):  # only pool_max was overridden: blame it
            raise ConfigError(
                f"{blame(max_path)}: {_dotted(max_path)}: expected int >= pool_min ({db.pool_min}), got {db.pool_max}"
            )
        raise ConfigError(
            f"{blame(min_path)}: {_dotted(min_path)}: expected int <= pool_max ({db.pool_max}), got {db.pool_min}"
        )
    return db


def _url_problem(url: str) -> str | None:
    """What a usable URL would look like, or ``None`` when ``url`` is one."""
    expected = "a postgresql:// or postgres:// URL with a host (or a host= query parameter)"
    if not _URL_PREFIX.fullmatch(url):
        return expected
    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as error:
        reason = str(error).strip().split(': "', 1)[0]
        return f"a valid libpq URL ({redact(reason, url)})"
    if not params.get("host"):
        return expected
    ports = str(params.get("port", "")).split(",")
    if not all(not port or (port.isdigit() and 0 < int(port) < 65536) for port in ports):
        return "a URL whose port is a number from 1 to 65535"
    return None


def _check_apps(databases: Mapping[str, DatabaseConfig], blame: Callable[[KeyPath], str]) -> None:
    """Raise ``ConfigError`` when one app is claimed by two databases."""
    owners: dict[str, str] = {}
    for name, db in databases.items():
        for index, app in enumerate(db.apps or ()):
            if app in owners:
                key_path: KeyPath = ("database", name, "apps", index)
                raise ConfigError(
                    f"{blame(key_path)}: {_dotted(key_path)}: expected an app no other database claims, "
                    f"got {_show(app)} (already in database.{owners[app]}.apps)"
                )
            owners[app] = name


def _splice(url: str, name: str) -> str:
    """``url`` with its path (the database name) replaced by ``/<name>``."""
    match = _URL_PREFIX.fullmatch(url)
    assert match is not None  # main's URL was validated
    return f"{match.group(1)}/{name}{match.group(2)}"


def _dotted(key_path: KeyPath) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in key_path).lstrip(".")


def _show(value: object) -> str:
    """A short TOML-like rendering of a value for error messages."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(_show(item) for item in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _redact(url: str) -> str:
    """Render a URL with any password replaced by ``***``."""
    return _show(redact(url, url))


def _suggestion(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""
