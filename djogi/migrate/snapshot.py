"""Schema snapshots: the committed shape of one ``(database, app)`` bucket (pure).

The Structs mirror the reference ``AppliedSchema`` (``schema_snapshot.json``, format ``"1"``): keys are
written in alphabetical order, pretty-printed with two spaces and a trailing newline, so the file is
byte-for-byte deterministic and reviewable. ``project`` (models) and ``introspect`` (live catalog) both
produce these values through the canonical spellings below (``canonical_type``, ``canonical_default``)
and ``fold_column_indexes``, so the two agree exactly once a migration has been applied.

Single-column ``indexed`` / ``unique`` flags live on the column (as in the reference); everything else is
in the flat, sorted ``indexes`` list. ``renamed_from`` / ``is_through`` / ``moved_from_app`` / ``rationale``
are declarations, not catalog state: ``structure()`` clears them for comparisons.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal

import msgspec
import pglast
from pglast import ast
from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS, UNRESERVED_KEYWORDS
from pglast.stream import RawStream
from pglast.visitors import Visitor
from returns.result import Failure, Result, Success

from djogi.identifiers import derived_name
from djogi.sqltext import query_relations

FORMAT_VERSION = "1"
DJOGI_VERSION = "0.1.0a1"

IndexType = Literal["BTree", "Gin", "Gist", "Hash", "Spgist", "Brin", "Hnsw", "Ivfflat"]
IndexKind = Literal["NonUnique", "UniqueConstraint", "UniqueIndex"]
OnDelete = Literal["Restrict", "Cascade", "SetNull", "SetDefault", "NoAction"]
Identity = Literal["ByDefault", "Always"]

INDEX_TYPES: dict[str, IndexType] = {
    "btree": "BTree", "gin": "Gin", "gist": "Gist", "hash": "Hash", "spgist": "Spgist", "brin": "Brin",
    "hnsw": "Hnsw", "ivfflat": "Ivfflat",
}  # fmt: skip
ON_DELETE_SQL: dict[OnDelete, str] = {
    "Restrict": "RESTRICT", "Cascade": "CASCADE", "SetNull": "SET NULL", "SetDefault": "SET DEFAULT",
    "NoAction": "NO ACTION",
}  # fmt: skip


class _S(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of snapshot Structs: frozen, keyword-only, strict on load."""


class EnumSchema(_S, frozen=True, kw_only=True, omit_defaults=True):
    """A native enum type; ``renamed_values`` (new -> old label) is a one-shot rename declaration."""

    name: str
    variants: tuple[str, ...]
    renamed_values: dict[str, str] | None = None


class CheckSchema(_S, frozen=True, kw_only=True):
    """A table CHECK constraint: its name and its expression (``canonical_expression``)."""

    expression: str
    name: str


class DomainSchema(_S, frozen=True, kw_only=True, omit_defaults=True):
    """A domain type: its base type (``canonical_type``), CHECK constraints (sorted by name, over ``value``),
    default and NOT NULL."""

    base_type: str
    checks: tuple[CheckSchema, ...] = ()
    default_sql: str | None = None
    name: str
    not_null: bool = False


class ForeignKeySchema(_S, frozen=True, kw_only=True, omit_defaults=True):
    """The referenced side of a single-column foreign key (constraint ``<table>_<column>_fkey``).

    ``on_update`` is None for PostgreSQL's default (``NO ACTION``) and then left out of the file, so
    snapshots written before it existed read back unchanged."""

    deferrable: bool
    initially_deferred: bool
    on_delete: OnDelete
    on_update: OnDelete | None = None
    ref_column: str
    ref_table: str


class GeneratedSchema(_S, frozen=True, kw_only=True):
    """A generated column's expression (``canonical_expression``) and whether it is STORED (else VIRTUAL)."""

    expression: str
    stored: bool


class ColumnSchema(_S, frozen=True, kw_only=True):
    """One column, with its single-column CHECK, FK, index and unique flags, and ``generated`` when the
    database computes it."""

    check: str | None = None
    codec: str | None = None
    comment: str | None = None
    default_sql: str | None = None
    foreign_key: ForeignKeySchema | None = None
    generated: GeneratedSchema | None = None
    identity: Identity | None = None
    index_type: IndexType | None = None
    indexed: bool = False
    max_length: int | None = None
    name: str
    nullable: bool
    on_delete: OnDelete | None = None
    outbox_exclude: bool = False
    rationale: str | None = None
    relation_kind: Literal["ForeignKey", "OneToOne"] | None = None
    renamed_from: str | None = None
    sequence_within: str | None = None
    sql_type: str
    unique: bool = False


class CustomPkSpec(_S, frozen=True, kw_only=True):
    """The payload of a ``{"Custom": ...}`` primary-key kind."""

    default_sql: str | None
    sql_type: str
    type_name: str


class CustomPk(_S, frozen=True, kw_only=True, rename={"custom": "Custom"}):
    """``{"Custom": {...}}``."""

    custom: CustomPkSpec


class PrimaryKeySchema(_S, frozen=True, kw_only=True):
    """PK columns and kind (``HeerIdRecencyBiased``, ``HeerId``, ``RanjId``, ``Serial``, ``Custom``...)."""

    columns: tuple[str, ...]
    kind: str | CustomPk


class PartitionBoundSchema(_S, frozen=True, kw_only=True):
    """One partition of a partitioned table: its name, its bound as PostgreSQL prints it
    (``FOR VALUES FROM (...) TO (...)``, ``DEFAULT``; timestamps in UTC) and, when it is partitioned
    in turn, its own partition key."""

    bound: str
    name: str
    partition_key: str | None = None


class PartitionSchema(_S, frozen=True, kw_only=True):
    """How a table is partitioned: the key as PostgreSQL prints it (``RANGE (payment_date)``) and its
    partitions, sorted by name."""

    key: str
    partitions: tuple[PartitionBoundSchema, ...] = ()


class AuditSchema(_S, frozen=True, kw_only=True, omit_defaults=True):
    """The audit trail of a table (``audit=``): the columns left out of its recorded images, sorted."""

    exclude: tuple[str, ...] = ()


class CompositeForeignKeySchema(_S, frozen=True, kw_only=True, omit_defaults=True):
    """A foreign key over several columns (a single-column one lives on its column)."""

    columns: tuple[str, ...]
    deferrable: bool = False
    initially_deferred: bool = False
    name: str
    on_delete: OnDelete
    on_update: OnDelete | None = None
    ref_columns: tuple[str, ...]
    ref_table: str


class TableSchema(_S, frozen=True, kw_only=True):
    """One table of the bucket (``partition``: set when the table is partitioned; ``outbox``: the companion
    table its capture triggers write events to, ``djogi.migrate.outbox``; ``audit``: set when its writes are
    recorded). ``checks`` (table CHECK constraints) and ``foreign_keys`` (composite ones), both sorted by
    name, are left out of the file when empty, and ``outbox`` / ``audit`` when None, so snapshots written
    before them read and write back unchanged."""

    app: str | None = None
    audit: AuditSchema | None = None
    checks: tuple[CheckSchema, ...] = ()
    columns: tuple[ColumnSchema, ...]
    exclusion_constraints: tuple[()] = ()
    foreign_keys: tuple[CompositeForeignKeySchema, ...] = ()
    fts: None = None
    is_through: bool = False
    moved_from_app: str | None = None
    outbox: str | None = None
    partition: PartitionSchema | None = None
    primary_key: PrimaryKeySchema
    rationale: str | None = None
    renamed_from: str | None = None
    rls_enabled: bool = False
    storage_params: str | None = None
    table: str
    table_comment: str | None = None
    tablespace: str | None = None
    tenant_key: str | None = None

    def column(self, name: str) -> ColumnSchema | None:
        """The column called ``name``, if any."""
        return next((c for c in self.columns if c.name == name), None)


class IndexColumnSchema(_S, frozen=True, kw_only=True):
    """One index key column."""

    name: str
    nulls: Literal["Default", "First", "Last"] = "Default"
    opclass: str | None = None
    order: Literal["Asc", "Desc"] = "Asc"


class IndexTarget(
    _S, frozen=True, kw_only=True, omit_defaults=True, rename={"columns": "Columns", "expression": "Expression"}
):
    """``{"Columns": [...]}`` or ``{"Expression": "..."}`` (a key list with at least one expression)."""

    columns: tuple[IndexColumnSchema, ...] | None = None
    expression: str | None = None


class IndexSchema(_S, frozen=True, kw_only=True):
    """A non-column index, unique index or unique constraint on ``table``."""

    extension_dependency: str | None = None
    include: tuple[str, ...] = ()
    index_type: IndexType = "BTree"
    kind: IndexKind = "NonUnique"
    name: str
    nulls_not_distinct: bool = False
    predicate: str | None = None
    requires_out_of_transaction: bool = False
    storage_parameters: dict[str, str] = {}
    table: str
    target: IndexTarget

    @property
    def unique(self) -> bool:
        """True for unique indexes and unique constraints."""
        return self.kind != "NonUnique"


class ViewColumnSchema(_S, frozen=True, kw_only=True):
    """One output column of a view: its name and type (``canonical_type``)."""

    name: str
    sql_type: str


class ViewSchema(_S, frozen=True, kw_only=True, omit_defaults=True):
    """A view or materialized view of the bucket: its defining query (as declared; ``pg_get_viewdef``'s
    text when read from the catalog, which ``verify`` compares server-side), its output columns in order,
    whether it is materialized, created ``WITH DATA`` (a declaration: ``structure()`` clears it) and, for a
    materialized view, its indexes (sorted by name)."""

    app: str | None = None
    columns: tuple[ViewColumnSchema, ...] = ()
    definition: str
    indexes: tuple[IndexSchema, ...] = ()
    materialized: bool = False
    name: str
    with_data: bool = True

    @property
    def reads(self) -> frozenset[str]:
        """The tables and views its query reads (unqualified names)."""
        return query_relations(self.definition)


class Unmodelled(msgspec.Struct, frozen=True):
    """A constraint of a table in scope that the snapshot cannot hold (an FK with MATCH FULL, an exclusion
    constraint, a constraint or index a partition has of its own) or a constraint left NOT VALID: what
    ``verify`` reports and ``db inspect`` refuses, since neither the models nor a snapshot declare it."""

    table: str
    name: str
    what: str


class Snapshot(_S, frozen=True, kw_only=True):
    """``schema_snapshot.json`` of one bucket (``domains`` and ``views`` are left out of the file when
    empty)."""

    djogi_version: str = DJOGI_VERSION
    domains: dict[str, DomainSchema] = {}
    enums: dict[str, EnumSchema]
    format_version: str = FORMAT_VERSION
    generated_at: str = ""
    indexes: tuple[IndexSchema, ...]
    models: dict[str, TableSchema]
    registered_apps: tuple[str, ...] = ()
    views: dict[str, ViewSchema] = {}

    def structure(self) -> Snapshot:
        """This snapshot without metadata, one-shot declarations and column order (a live table's column
        order cannot change): the part the catalog can confirm."""
        tables = {
            name: msgspec.structs.replace(
                t, renamed_from=None, is_through=False, moved_from_app=None, rationale=None,
                columns=tuple(sorted((msgspec.structs.replace(c, renamed_from=None, rationale=None) for c in t.columns),
                                     key=lambda c: c.name)),
            )
            for name, t in self.models.items()
        }  # fmt: skip
        enums = {name: msgspec.structs.replace(e, renamed_values=None) for name, e in self.enums.items()}
        views = {name: msgspec.structs.replace(v, with_data=True) for name, v in self.views.items()}
        return Snapshot(enums=enums, indexes=self.indexes, models=tables, registered_apps=self.registered_apps,
                        domains=self.domains, views=views)

    @property
    def extensions(self) -> tuple[str, ...]:
        """Extensions the bucket's indexes and column types need (``vector`` for a ``VECTOR(n)`` column),
        sorted."""
        needed = {i.extension_dependency for i in self.indexes if i.extension_dependency}
        for table in self.models.values():
            needed.update(COLUMN_EXTENSIONS[base] for c in table.columns if (base := _base_type(c.sql_type)) in
                          COLUMN_EXTENSIONS)  # fmt: skip
        return tuple(sorted(needed))


EMPTY = Snapshot(enums={}, indexes=(), models={})

_ENCODER = msgspec.json.Encoder(order="sorted")


def encode(snapshot: Snapshot | msgspec.Struct) -> bytes:
    """Deterministic pretty JSON: sorted keys, two-space indent, trailing newline. An index without storage
    parameters is written without the ``storage_parameters`` key, as the reference format has it; djogi's
    additions to the format (``domains``, ``views``, a table's ``checks``, ``foreign_keys``, ``outbox``, ``audit``) are
    left out when empty or None."""
    data = msgspec.to_builtins(snapshot, order="sorted")
    for index in data.get("indexes", ()) if isinstance(data, dict) else ():
        if not index.get("storage_parameters", True):
            del index["storage_parameters"]
    for key in ("domains", "views"):
        if isinstance(data, dict) and not data.get(key, True):
            del data[key]
    for view in data.get("views", {}).values() if isinstance(data, dict) else ():
        for index in view.get("indexes", ()):
            if not index.get("storage_parameters", True):
                del index["storage_parameters"]
    tables = data.get("models", {}) if isinstance(data, dict) else {}
    for table in tables.values() if isinstance(tables, dict) else ():
        for key in ("checks", "foreign_keys", "outbox", "audit"):
            if key in table and table[key] in (None, []):
                del table[key]
    return msgspec.json.format(_ENCODER.encode(data), indent=2) + b"\n"


def decode(data: bytes) -> Result[Snapshot, str]:
    """Parse a snapshot file's bytes (BOM stripped); ``Failure`` says what is wrong."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        peek = msgspec.json.decode(data, type=dict[str, object])
        if peek.get("format_version") != FORMAT_VERSION:
            return Failure(f"unsupported snapshot format_version {peek.get('format_version')!r}; expected '1'")
        return Success(msgspec.json.decode(data, type=Snapshot))
    except msgspec.DecodeError as exc:
        return Failure(f"invalid snapshot: {exc}")


def load(path: Path) -> Result[Snapshot, str]:
    """The snapshot at ``path``; the empty snapshot when the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Success(EMPTY)
    except OSError as exc:
        return Failure(f"{path}: {exc}")
    return decode(data).alt(lambda why: f"{path}: {why}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------ canonical spellings

_TYPE_ALIASES = {
    "int8": "BIGINT", "bigint": "BIGINT", "int4": "INTEGER", "integer": "INTEGER", "int": "INTEGER",
    "int2": "SMALLINT", "smallint": "SMALLINT", "text": "TEXT", "bool": "BOOLEAN", "boolean": "BOOLEAN",
    "float8": "DOUBLE PRECISION", "double precision": "DOUBLE PRECISION", "float4": "REAL", "real": "REAL",
    "numeric": "NUMERIC", "decimal": "NUMERIC", "date": "DATE", "timestamptz": "TIMESTAMPTZ",
    "timestamp with time zone": "TIMESTAMPTZ", "timestamp": "TIMESTAMP",
    "timestamp without time zone": "TIMESTAMP", "time": "TIME", "time without time zone": "TIME",
    "timetz": "TIMETZ", "time with time zone": "TIMETZ", "interval": "INTERVAL", "uuid": "UUID",
    "bytea": "BYTEA", "json": "JSON", "jsonb": "JSONB", "varchar": "VARCHAR", "character varying": "VARCHAR",
    "char": "CHAR", "character": "CHAR", "bpchar": "CHAR", "inet": "INET", "cidr": "CIDR", "citext": "CITEXT",
    "tsvector": "TSVECTOR", "money": "MONEY", "xml": "XML",
}  # fmt: skip
_TYPE_SHAPE = re.compile(r"^(?P<base>[^(\[]+?)\s*(?:\((?P<mods>[^)]*)\))?\s*(?P<dims>(?:\[\d*\])*)$")


COLUMN_EXTENSIONS = {"vector": "vector"}
"""The extension a column type comes from (by its base name, lower case)."""


def _base_type(sql_type: str) -> str:
    return sql_type.split("(", 1)[0].strip().lower().removesuffix("[]")


def canonical_type(sql_type: str) -> str:
    """One spelling per type: ``character varying(20)`` and ``varchar(20)`` -> ``VARCHAR(20)``."""
    m = _TYPE_SHAPE.match(sql_type.strip())
    if m is None:
        return sql_type.strip()
    base = " ".join(m["base"].split())
    canon = _TYPE_ALIASES.get(base.lower())
    if canon is None:
        canon = base.lower() if not base.startswith('"') else base
    mods = f"({', '.join(p.strip() for p in m['mods'].split(','))})" if m["mods"] else ""
    dims = "[]" * m["dims"].count("[")
    return f"{canon}{mods}{dims}"


def collated(sql_type: str, collation: str | None) -> str:
    """``sql_type`` with the column's collation when it is not the type's default: ``TEXT COLLATE "C"``
    (valid wherever a column type is: CREATE TABLE, ADD COLUMN, ALTER COLUMN ... TYPE)."""
    return sql_type if collation is None else f'{sql_type} COLLATE "{collation.replace(chr(34), chr(34) * 2)}"'


def max_length_of(sql_type: str) -> int | None:
    """The length of a ``VARCHAR(n)``/``CHAR(n)`` type."""
    m = re.fullmatch(r"(?:VARCHAR|CHAR)\((\d+)\)", sql_type)
    return int(m.group(1)) if m else None


_CAST_LITERAL = re.compile(r"^\(?('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\)?::[\w .\"]+(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*$")
_NUMBER = re.compile(r"^'?(-?\d+(?:\.\d+)?)'?$")


_NEXTVAL = re.compile(r"^nextval\('((?:[^']|'')+)'(?:::regclass)?\)$", re.IGNORECASE)


def owned_sequence(default_sql: str | None) -> str | None:
    """The sequence a ``nextval('<name>'::regclass)`` default draws from (created with its column), else
    None."""
    m = _NEXTVAL.match(default_sql or "")
    return None if m is None else m.group(1).replace("''", "'").strip('"')


def primary_key_schema(columns: tuple[ColumnSchema, ...] | list[ColumnSchema], key: tuple[str, ...]
                       ) -> PrimaryKeySchema:  # fmt: skip
    """The primary key over ``key`` as the catalog shows it: ``None`` without columns, ``Composite`` for
    several, else the kind read off the column (identity: ``Serial``; a HeeRanjID default; ``Custom``)."""
    if not key:
        return PrimaryKeySchema(columns=(), kind="None")
    if len(key) > 1:
        return PrimaryKeySchema(columns=key, kind="Composite")
    col = next(c for c in columns if c.name == key[0])
    kind: str | CustomPk
    if col.identity is not None:
        kind = "Serial"
    elif col.default_sql in PK_KINDS:
        kind = PK_KINDS[col.default_sql]
    else:
        kind = CustomPk(custom=CustomPkSpec(default_sql=col.default_sql, sql_type=col.sql_type, type_name=col.sql_type))
    return PrimaryKeySchema(columns=key, kind=kind)


PK_KINDS = {
    "heerid_next_desc()": "HeerIdRecencyBiased", "heerid_next()": "HeerId", "ranjid_next()": "RanjId",
    "ranjid_next_desc()": "RanjIdRecencyBiased",
}  # fmt: skip
"""The primary-key kind each HeeRanjID default stands for."""


def canonical_default(expr: str | None) -> str | None:
    """One spelling per default expression: literal casts dropped (``'a'::text`` -> ``'a'``)."""
    if expr is None:
        return None
    text = expr.strip()
    while True:
        m = _CAST_LITERAL.match(text)
        if m is None:
            break
        text = m.group(1)
    number = _NUMBER.match(text)
    if number is not None:
        return number.group(1)
    low = text.lower()
    if low in ("true", "false", "null"):
        return low
    return text


class _Uncast(Visitor):
    """Drops the cast of a literal (``'x'::text`` -> ``'x'``, ``(0)::numeric`` -> ``0``) unless it is cast
    again (``'1.5'::numeric::integer`` is kept): the casts PostgreSQL adds when it prints an expression."""

    def visit_TypeCast(self, ancestors: Any, node: ast.TypeCast) -> Any:
        if isinstance(node.arg, ast.A_Const) and not isinstance(ancestors.node, ast.TypeCast):
            return node.arg
        return None


def canonical_expression(text: str) -> str:
    """One spelling per SQL expression (pglast's deparse: ``((a >= 0))`` and ``a>=0`` -> ``a >= 0``, literal
    casts dropped as ``canonical_default`` drops them), so a declared CHECK, generated column or domain
    constraint and the catalog's text of it compare equal; text pglast cannot parse is kept, stripped."""
    try:
        statements = pglast.parse_sql(f"SELECT {text}")
    except pglast.parser.ParseError:
        return text.strip()
    statement = statements[0].stmt if len(statements) == 1 else None
    if not isinstance(statement, ast.SelectStmt):
        return text.strip()
    targets = statement.targetList
    if not targets or len(targets) != 1 or targets[0].name is not None:  # not one expression: kept as it is
        return text.strip()
    _Uncast()(statement)
    return str(RawStream()(targets[0].val))


_QUOTED_NUMBER = re.compile(r"'(-?\d+)'")
_SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def canonical_bound(bound: str) -> str:
    """One spelling per partition bound: PostgreSQL prints an integer bound quoted or not depending on
    its type and sign (``('100')`` for a BIGINT key, ``(100)`` for an INTEGER one); unquoted here."""
    return _QUOTED_NUMBER.sub(r"\1", bound)


def printed_name(name: str) -> str:
    """An identifier as PostgreSQL prints it (``pg_get_partkeydef``): bare when it is lower case and not
    a keyword other than an unreserved one, else double-quoted."""
    if _SIMPLE_NAME.fullmatch(name) and (name in UNRESERVED_KEYWORDS or not _is_keyword(name)):
        return name
    return '"' + name.replace('"', '""') + '"'


def _is_keyword(name: str) -> bool:
    return name in RESERVED_KEYWORDS or name in COL_NAME_KEYWORDS or name in TYPE_FUNC_NAME_KEYWORDS


# ------------------------------------------------------------------------------ column-level indexes


def column_index_name(table: str, column: str) -> str:
    """Name of the index behind ``field(index=...)``."""
    return derived_name(table, (column,), "idx")


def column_unique_name(table: str, column: str) -> str:
    """Name of the UNIQUE constraint behind ``field(unique=True)``."""
    return derived_name(table, (column,), "key")


def _column_shaped(index: IndexSchema) -> str | None:
    """The column an index stands for when it is exactly a column-level index/unique, else None."""
    keys = index.target.columns
    if keys is None or len(keys) != 1 or index.predicate or index.include or index.nulls_not_distinct:
        return None
    key = keys[0]
    if key.order != "Asc" or key.nulls != "Default" or key.opclass is not None:
        return None
    if index.kind == "NonUnique" and index.name == column_index_name(index.table, key.name):
        return key.name
    if index.kind == "UniqueConstraint" and index.name == column_unique_name(index.table, key.name):
        return key.name
    return None


def fold_column_indexes(
    tables: dict[str, TableSchema], indexes: list[IndexSchema]
) -> tuple[dict[str, TableSchema], tuple[IndexSchema, ...]]:
    """Move column-shaped indexes onto their columns (``indexed``/``unique``) and derive
    ``relation_kind``/``on_delete``; return the tables and the remaining indexes sorted by (table, name)."""
    flags: dict[tuple[str, str], dict[str, object]] = {}
    rest: list[IndexSchema] = []
    for index in indexes:
        column = _column_shaped(index)
        table = tables.get(index.table)
        if column is None or table is None or table.column(column) is None:
            rest.append(index)
            continue
        slot = flags.setdefault((index.table, column), {})
        if index.kind == "NonUnique":
            slot.update(indexed=True, index_type=index.index_type)
        else:
            slot["unique"] = True
    out: dict[str, TableSchema] = {}
    for name in sorted(tables):
        table = tables[name]
        columns = []
        for col in table.columns:
            slot = flags.get((name, col.name), {})
            unique = bool(slot.get("unique", False))
            fk = col.foreign_key
            columns.append(msgspec.structs.replace(
                col,
                indexed=bool(slot.get("indexed", False)),
                index_type=slot.get("index_type"),
                unique=unique,
                on_delete=fk.on_delete if fk else None,
                relation_kind=None if fk is None else ("OneToOne" if unique else "ForeignKey"),
                max_length=max_length_of(col.sql_type),
            ))  # fmt: skip
        out[name] = msgspec.structs.replace(table, columns=tuple(columns))
    return out, tuple(sorted(rest, key=lambda i: (i.table, i.name)))


def expand_column_indexes(snapshot: Snapshot) -> tuple[IndexSchema, ...]:
    """Every index of the bucket, column-level ones included, sorted by (table, name)."""
    found = list(snapshot.indexes)
    for table in snapshot.models.values():
        for col in table.columns:
            key = IndexTarget(columns=(IndexColumnSchema(name=col.name),))
            if col.indexed:
                found.append(IndexSchema(
                    name=column_index_name(table.table, col.name), table=table.table, target=key,
                    index_type=col.index_type or "BTree",
                ))  # fmt: skip
            if col.unique:
                found.append(IndexSchema(
                    name=column_unique_name(table.table, col.name), table=table.table, target=key,
                    kind="UniqueConstraint",
                ))  # fmt: skip
    return tuple(sorted(found, key=lambda i: (i.table, i.name)))


def key_sql(text: str, opclass: str | None, descending: bool, nulls: str | None) -> str:
    """One index key as SQL: ``text [opclass] [DESC] [NULLS FIRST|LAST]`` (``nulls`` None: the default)."""
    if opclass:
        text += f" {opclass}"
    if descending:
        text += " DESC"
    return text if nulls is None else f"{text} NULLS {nulls.upper()}"
