"""Multi-row writes: binary COPY, and the generation of database-filled values (keys, timestamps,
``db_default`` columns) before a write; the bulk insert, upsert and update statements and those of the
race-safe ``get_or_create`` / ``update_or_create`` are algebra values (``djogi.algebra.dml``: ``insert_many``,
``update_many``, ``insert_one(...).on_conflict(...)``) run through ``Database.execute``.

The SQL built here (COPY, the column-OID lookup, the generation query) comes from model descriptors only:
identifiers come from validated descriptors and are quoted, every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import anyio
import anyio.lowlevel
import msgspec
import psycopg
from msgspec import UNSET

from djogi.algebra.compile import compile
from djogi.algebra.dml import Insert, excluded, insert_many, insert_one, update_many
from djogi.algebra.expr import Column, now
from djogi.algebra.query import select
from djogi.codecs.values import checked_column, column_value, sealed
from djogi.errors import NotFound, StaleObject, ValidationError
from djogi.executor.errors import translate
from djogi.executor.transaction import Atomic
from djogi.identifiers import quote_ident
from djogi.model import FieldDescriptor, Model, ModelDescriptor, descriptor
from djogi.types import HEERANJID_TYPES, HeerId, HeerIdDesc, RanjId, RanjIdDesc

if TYPE_CHECKING:
    from djogi.executor.pool import Connection
    from djogi.executor.session import Session

M = TypeVar("M", bound=Model[Any])

# Enum columns are written as ``text`` (the binary form of an enum value is its label), so COPY needs no
# dumper for an enum type created after the pool's connections were configured.
COLUMN_OIDS_SQL = (
    "SELECT a.attname, CASE WHEN t.typtype = 'e' OR t.oid = 'bpchar'::regtype THEN 'text'::regtype::oid "
    "ELSE t.oid END "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type d ON d.oid = a.atttypid "
    "JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN d.typtype = 'd' THEN d.typbasetype ELSE d.oid END "
    "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped"
)
GET_OR_CREATE_ATTEMPTS = 3


def _model_of(rows: Sequence[Model[Any]]) -> ModelDescriptor:
    models = set(map(type, rows))
    if len(models) != 1:
        names = ", ".join(sorted(m.__name__ for m in models))
        raise ValidationError(f"bulk writes take rows of one model; got {names}")
    return descriptor(models.pop())


def _fields(desc: ModelDescriptor, names: Sequence[str], what: str) -> list[FieldDescriptor]:
    try:
        return [desc.field(name) for name in names]
    except KeyError as exc:
        raise ValidationError(f"{what}: {exc.args[0]}") from None


_HEER_GENERATORS = {  # key kind -> the bulk generator on the database's fixed node (one call per batch)
    HeerIdDesc: "heer_generate_ids(heer_id_node(), $1::integer, true, true)",
    HeerId: "heer_generate_ids(heer_id_node(), $1::integer, true, false)",
    RanjIdDesc: "heer_generate_ranjids(heer_ranj_node(), $1::integer, true, true)",
    RanjId: "heer_generate_ranjids(heer_ranj_node(), $1::integer, true, false)",
}


def _pk_source(desc: ModelDescriptor) -> tuple[str, str]:
    """(FROM item producing ``$1`` rows as ``g``, the pk expression over it) for pre-allocating keys."""
    pk = desc.pk
    generator = _HEER_GENERATORS.get(pk.python_type)
    if generator is not None:
        return f"{generator} AS g(id)", "g.id"
    series = "generate_series(1, $1::integer) AS g(n)"
    if pk.identity:
        return series, _identity_next(desc, desc.pk_field)
    assert pk.default_sql is not None  # every non-identity key kind has a default
    return series, _hoist_nextval(pk.default_sql)


def _identity_next(desc: ModelDescriptor, fd: FieldDescriptor) -> str:
    """``nextval`` of an identity column's sequence, looked up once per statement (an uncorrelated subquery
    runs as an InitPlan), not once per key."""
    table = quote_ident(desc.table).replace("'", "''")
    column = fd.column.replace("'", "''")  # a column name, not an identifier to parse
    return f"nextval((SELECT pg_get_serial_sequence('{table}', '{column}')::regclass))"


def _hoist_nextval(default_sql: str) -> str:
    """``nextval(<arg>)`` as ``nextval((SELECT (<arg>)::regclass))``, so the sequence is resolved once per
    statement (an InitPlan) rather than once per generated key; any other expression is returned as is.

    A column default cannot refer to the row, so ``<arg>`` names the same sequence for every key; resolving
    it (``pg_get_serial_sequence(...)``, a text-to-regclass cast) per key costs more than the ``nextval``.
    """
    text = default_sql.strip()
    if text[:8].lower() != "nextval(" or not text.endswith(")"):
        return default_sql
    arg = text[8:-1]
    depth, quote = 0, ""
    for ch in arg:  # the argument must be one balanced expression (the outer parentheses belong together)
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return default_sql
    if depth or quote or not arg.strip():
        return default_sql
    return f"nextval((SELECT ({arg})::regclass))"


def _loaded_column(desc: ModelDescriptor, fd: FieldDescriptor, column: Sequence[Any]) -> Sequence[Any]:
    """``column`` (the values generated for ``fd``, as loaded) as the model holds them. A ``HeerId`` /
    ``HeerIdDesc`` key column is checked as a whole (its values are the plain ints 0..2**63-1: loaded from a
    BIGINT, only a negative one could fail), each value converted only when that check fails (the key type
    then raises ValidationError naming the value)."""
    tp = desc.pk.python_type if fd.kind == "pk" else None
    if tp in (HeerId, HeerIdDesc):
        try:
            if min(column, default=0) >= 0:
                return column
        except TypeError:  # a None among them
            pass
        return list(map(tp, column))
    if tp in (RanjId, RanjIdDesc):
        return [tp.from_str(str(raw)) for raw in column]
    if fd.enum_type is not None:
        enum_type = fd.enum_type
        return [None if raw is None else enum_type(raw) for raw in column]
    return column


@functools.cache
def _filler(names: tuple[str, ...]) -> Callable[..., Any]:
    """``fill(row, v1, v2, ...) -> replace(row, name1=v1, ...)``, generated once per field set (names are
    validated field identifiers) so filling 100k rows is one ``map`` without per-row dicts."""
    args = ", ".join(f"_{i}" for i in range(len(names)))
    assignments = ", ".join(f"{name}=_{i}" for i, name in enumerate(names))
    namespace: dict[str, Any] = {"replace": msgspec.structs.replace}
    exec(f"def fill(row, {args}):\n    return replace(row, {assignments})", namespace)
    return namespace["fill"]  # type: ignore[no-any-return]


class _Allocation(NamedTuple):
    """Database-filled fields some row left UNSET, their values loaded per row, and the fields every
    row left UNSET."""

    missing: list[FieldDescriptor]
    loaded: list[Sequence[Any]]
    everywhere: set[str]


def _unset_fields(
    desc: ModelDescriptor, rows: Sequence[Model[Any]], read: dict[str, list[Any]] | None = None
) -> tuple[list[FieldDescriptor], set[str]]:
    """The database-filled fields (key, timestamps, ``db_default`` columns) some row leaves UNSET, and the
    names of those every row leaves UNSET; the columns it reads are kept in ``read`` when given."""
    missing: list[FieldDescriptor] = []
    everywhere: set[str] = set()
    for fd in desc.fields:
        if fd.db_filled and fd.generated is None:
            column = list(map(operator.attrgetter(fd.name), rows))
            if read is not None:
                read[fd.name] = column
            unset = column.count(UNSET)
            if unset:
                missing.append(fd)
            if unset == len(rows):
                everywhere.add(fd.name)
    return missing, everywhere


def _left_to_defaults(missing: Sequence[FieldDescriptor], everywhere: set[str]) -> set[str]:
    """The database-filled fields a write leaves out for the column defaults to fill: those every row leaves
    UNSET (``everywhere``), except ``created_at``/``updated_at``, generated together from one ``now()`` (as
    a create gives them) when some rows set either and others leave it UNSET, and except a HeeRanjID key,
    whose bulk generator (one call for the batch) costs less than its column default once per row."""
    stamps = {fd.name for fd in missing if fd.auto is not None}
    keys = {fd.name for fd in missing if fd.kind == "pk" and fd.python_type in _HEER_GENERATORS}
    if any(name not in everywhere for name in stamps):
        return everywhere - stamps - keys
    return everywhere - keys


async def _generate(
    db: Session, conn: Connection, desc: ModelDescriptor, missing: Sequence[FieldDescriptor], n: int
) -> list[Sequence[Any]]:
    """``n`` values for each field of ``missing``, generated in one round trip returning one row of arrays:
    ``SELECT array_agg(g.id), now(), array_agg((<default>))... FROM heer_generate_ids(heer_id_node(), $1, true,
    true) AS g(id)`` (the generator depends on the key kind, see ``_HEER_GENERATORS``; timestamps are one
    ``now()``, repeated)."""
    if not missing:
        return []
    source, pk_expr = _pk_source(desc)
    exprs = []
    for fd in missing:
        if fd.kind == "pk" and not desc.composite:
            exprs.append(f"array_agg({pk_expr})")
        elif fd.identity is not None:
            exprs.append(f"array_agg({_identity_next(desc, fd)})")
        elif fd.auto is not None:
            exprs.append("now()")
        else:
            text = "::text" if fd.enum_type is not None else ""
            exprs.append(f"array_agg(({_hoist_nextval(fd.db_default or '')})::{fd.sql_type}{text})")
    values, _ = await db.on(conn, f"SELECT {', '.join(exprs)} FROM {source}", (n,))
    return [[value] * n if fd.auto is not None else value for fd, value in zip(missing, values[0], strict=True)]


def _fill(desc: ModelDescriptor, rows: Sequence[M], allocation: _Allocation) -> list[M]:
    """``rows`` with their UNSET database-filled fields set from ``allocation`` (as model values)."""
    missing, loaded, everywhere = allocation
    if not missing:
        return list(rows)
    converted = [_loaded_column(desc, fd, column) for fd, column in zip(missing, loaded, strict=True)]
    names = tuple(fd.name for fd in missing)
    if len(everywhere) == len(missing):
        return list(map(_filler(names), rows, *converted))
    filled = []
    for row, new in zip(rows, zip(*converted, strict=True), strict=True):
        changes = {n: v for n, v in zip(names, new, strict=True) if getattr(row, n) is UNSET}
        filled.append(msgspec.structs.replace(row, **changes) if changes else row)
    return filled


def _given_columns(
    model: str, fields: Sequence[FieldDescriptor], read: dict[str, list[Any]], everywhere: set[str]
) -> list[Any]:
    """Each field's values (``read``, one list per field) as COPY dumps them (converted), None for a field
    every row leaves UNSET; a field some rows leave UNSET keeps those UNSET values for ``_copy_rows``."""
    columns: list[Any] = []
    for fd in fields:
        if fd.name in everywhere:
            columns.append(None)
            continue
        column = read[fd.name]
        convert = _copy_converter(fd, model)
        if convert is not None:
            column = [v if v is UNSET else convert(v) for v in column] if fd.db_filled else list(map(convert, column))
        columns.append(column)
    return columns


def _copy_rows(
    fields: Sequence[FieldDescriptor], given: list[Any], missing: Sequence[FieldDescriptor], loaded: list[Sequence[Any]]
) -> Iterator[tuple[Any, ...]]:
    """The COPY rows in ``fields`` order: the given columns with generated values (as loaded) in place of the
    UNSET ones."""
    generated = dict(zip((fd.name for fd in missing), loaded, strict=True))
    for name in (fd.name for fd in missing if fd.auto is not None):  # one now() repeated: dump it with a UTC
        times = generated.get(name)  # tzinfo (the same instant), formatted faster than the session's ZoneInfo
        if times and isinstance(times[0], dt.datetime) and times[0].tzinfo is not dt.UTC:
            generated[name] = [times[0].astimezone(dt.UTC)] * len(times)
    columns: list[Sequence[Any]] = []
    for fd, column in zip(fields, given, strict=True):
        if column is None:
            columns.append(generated[fd.name])
        elif fd.name in generated:
            columns.append([g if v is UNSET else v for v, g in zip(column, generated[fd.name], strict=True)])
        else:
            columns.append(column)
    return zip(*columns, strict=True)


def _copy_converter(fd: FieldDescriptor, model: str) -> Callable[[Any], Any] | None:
    """How a field's Python value (of ``model``) is turned into what psycopg's by-OID binary COPY dumper
    expects (an encrypted field's text: its ciphertext)."""
    if fd.python_type in HEERANJID_TYPES:
        if fd.python_type in (HeerId, HeerIdDesc):
            return lambda v: None if v is None else v.as_int()
        return lambda v: None if v is None else v.to_uuid()
    if fd.value_kind == "enum":
        return lambda v: None if v is None else v.value
    if fd.value_kind == "encrypted":
        return lambda v: sealed(fd, v, model)
    if fd.value_kind == "array" and fd.enum_type is not None:
        return lambda v: None if v is None else [None if e is None else e.value for e in v]
    return None


async def _column_oids(db: Session, conn: Connection, desc: ModelDescriptor) -> dict[str, int]:
    """The table's column type OIDs by column name (cached per table): a domain's base type, enums and
    ``CHAR(n)`` as ``text`` (psycopg has no binary dumper for them; the server reads the text into the
    column's type)."""
    known = db.column_oids.get(desc.table)
    if known is None:
        rows, _ = await db.on(conn, COLUMN_OIDS_SQL, (quote_ident(desc.table),))
        known = dict(rows)
        db.column_oids[desc.table] = known
    return known


async def bulk_create(db: Session, rows: Sequence[M], returning: bool) -> list[M] | int:
    """See ``Database.bulk_create``: generate what the COPY needs, then
    ``COPY "t" (cols) FROM STDIN (FORMAT BINARY)``.

    Generated columns are left out of the COPY and stay UNSET in the rows returned (read the rows back for
    their values). The generating round trip runs while the rows are checked (a refused value raises its
    ValidationError once that query has answered, before any row is sent). Without
    ``returning``, database-filled fields every row leaves UNSET are left out of the COPY (their column
    defaults fill them) and nothing is generated for them, except a HeeRanjID key (one call of the bulk
    generator costs less than the default per row); ``created_at``/``updated_at`` are still generated
    together, from one ``now()``, when some rows leave either UNSET and others set it.
    """
    if not rows:
        return [] if returning else 0
    desc = _model_of(rows)
    desc.check_writable("bulk_create()")
    _copyable(desc)
    read: dict[str, list[Any]] = {}
    missing, all_unset = _unset_fields(desc, rows, read)
    everywhere = all_unset
    fields = [fd for fd in desc.fields if fd.generated is None]  # computed by the database, left UNSET
    if not returning:
        left_out = _left_to_defaults(missing, everywhere)
        fields = [fd for fd in fields if fd.name not in left_out]
        missing = [fd for fd in missing if fd.name not in left_out]
        everywhere = everywhere - left_out
    state = await db.pinned()
    conn = state.conn if state is not None else await db.acquire()
    try:
        known = await _column_oids(db, conn, desc)
        loaded: list[Sequence[Any]] = []

        async def generate() -> None:
            loaded.extend(await _generate(db, conn, desc, missing, len(rows)))

        refused: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                if missing:
                    tg.start_soon(generate)
                    await anyio.lowlevel.checkpoint()  # the task sends its query before the rows are checked
                try:
                    rows, read = checked_columns(desc, rows, read, all_unset)
                    given = _given_columns(desc.name, fields, read, everywhere)
                except Exception as exc:  # raised once the generating query has answered (not cancelled mid-query)
                    refused = exc
        except BaseExceptionGroup as group:
            raise _first_error(group) from None
        if refused is not None:
            raise refused
        copy_rows = _copy_rows(fields, given, missing, loaded)
        names = ", ".join(quote_ident(fd.column) for fd in fields)
        sql = f"COPY {quote_ident(desc.table)} ({names}) FROM STDIN (FORMAT BINARY)"
        started = time.perf_counter()
        cur = conn.cursor()
        try:
            async with cur.copy(sql) as copy:
                copy.set_types([known[fd.column] for fd in fields])
                # copy.write_row() awaits once per row; formatting rows through the copy's formatter
                # and awaiting only when a buffer fills (every ~32 KiB) saves that per-row cost.
                format_row = copy.formatter.write_row
                for values in copy_rows:
                    if block := format_row(values):
                        await copy.write(block)
                # Built while the server still inserts the last rows (finishing COPY waits for it).
                result = _fill(desc, rows, _Allocation(missing, loaded, everywhere)) if returning else len(rows)
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise translate(exc) from exc
        db.observe(sql, (), started, len(rows))
    finally:
        if state is None:
            await db.release(conn)
    return result


def _copyable(desc: ModelDescriptor) -> None:
    """ValidationError naming the field for a column COPY cannot write: an enum array (no dumper for it
    yet)."""
    for fd in desc.fields:
        if fd.value_kind == "array" and fd.enum_type is not None:
            raise ValidationError(
                f"{desc.name}.{fd.name}: bulk_create() cannot COPY an enum array column yet; "
                "use bulk_insert() or create() for this model"
            )


def checked_columns(
    desc: ModelDescriptor, rows: Sequence[M], read: dict[str, list[Any]], unset: set[str]
) -> tuple[Sequence[M], dict[str, list[Any]]]:
    """``rows`` with every value checked as ``create()`` checks it (``checked_column``: ``ValidationError``
    naming ``Model.field`` before any row is sent) and replaced by what is stored when that differs (a
    REAL rounded to single precision, a plain int key as the declared id type, an enum label as its member),
    and each field's values as read (one list per field name, in the rows' order; ``read`` holds the columns
    already read out of ``rows``, ``unset`` the database-filled fields every row leaves UNSET: nothing to
    check)."""
    read = dict(read)
    changed: dict[str, list[Any]] = {}
    for fd in desc.fields:
        if fd.name in unset:
            continue
        column = read.get(fd.name)
        if column is None:
            column = list(map(operator.attrgetter(fd.name), rows))
        stored = checked_column(fd, column, model=desc.name)
        if stored is not None:
            changed[fd.name] = column = stored
        read[fd.name] = column
    if changed:
        rows = list(map(_filler(tuple(changed)), rows, *changed.values()))
    return rows, read


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a task group failed with (the first that is not a cancellation), for callers that expect
    one djogi error rather than an ``ExceptionGroup``."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    cancelled = anyio.get_cancelled_exc_class()
    return next((exc for exc in leaves if not isinstance(exc, cancelled)), leaves[0])


def _conflict_columns(desc: ModelDescriptor, names: Sequence[str], what: str) -> list[Column[Any, Any]]:
    """The columns of the fields ``names`` (``ValidationError`` naming ``what`` for an unknown one)."""
    return [getattr(desc.model, fd.name) for fd in _fields(desc, names, what)]


def _upsert(ins: Insert[M], target: Sequence[Column[Any, Any]], update: Sequence[Column[Any, Any]]) -> Insert[M]:
    """``ins ON CONFLICT (target) DO NOTHING``, or ``DO UPDATE SET <each update column> = excluded.<column>,
    "updated_at" = now()`` (and the version incremented) when ``update`` names columns."""
    clause = ins.on_conflict(*target)
    if not update:
        return clause.do_nothing()
    changes: dict[str, object] = {col.name: excluded(col) for col in update}
    stamp = descriptor(ins.model).updated_field
    if stamp is not None:
        changes.setdefault(stamp.name, now())
    return clause.do_update(set=changes)


async def insert_unnest(
    db: Session, rows: Sequence[M], conflict_target: Sequence[str] | None, update_fields: Sequence[str]
) -> list[M]:
    """Generate the database-filled values some rows leave UNSET (as ``bulk_create`` does), then run
    ``insert_many(rows)`` ``ON CONFLICT (target) DO NOTHING | DO UPDATE`` (see ``_upsert``); with
    ``conflict_target`` None, a plain ``insert_many(rows)`` (``bulk_create`` under row-level security,
    where PostgreSQL refuses COPY)."""
    if not rows:
        return []
    desc = _model_of(rows)
    if conflict_target is not None and not conflict_target:
        raise ValidationError("conflict_target must name at least one field")
    target = _conflict_columns(desc, conflict_target or (), "bulk insert")
    update = _conflict_columns(desc, update_fields, "bulk insert")
    missing, everywhere = _unset_fields(desc, rows)
    left_out = _left_to_defaults(missing, everywhere)
    generate = [fd for fd in missing if fd.name not in left_out]
    if generate:
        state = db.current_transaction()
        conn = state.conn if state is not None else await db.acquire()
        try:
            loaded = await _generate(db, conn, desc, generate, len(rows))
        finally:
            if state is None:
                await db.release(conn)
        rows = _fill(desc, rows, _Allocation(generate, loaded, everywhere - left_out))
    inserted = insert_many(desc.model, rows)
    return await db.execute(_upsert(inserted, target, update) if target else inserted)  # type: ignore[no-any-return]


async def bulk_update(db: Session, rows: Sequence[Model[Any]], fields: Sequence[str]) -> int:
    """See ``Database.bulk_update``: runs ``update_many(rows, fields)``; with a version field, inside
    ``atomic()``, raising ``StaleObject`` (and so rolling back) unless every row was updated."""
    if not rows:
        return 0
    desc = _model_of(rows)
    statement = update_many(desc.model, rows, fields)
    version = desc.version_field
    if version is None:
        return await db.execute(statement)  # type: ignore[no-any-return]
    async with Atomic(db, None, False, False):
        count: int = await db.execute(statement)
        if count != len(rows):
            raise StaleObject(
                f"bulk_update(): {len(rows) - count} of {len(rows)} {desc.name} rows are stale (their "
                f"{version.name} moved on or they were deleted); nothing was written"
            )
    return count


async def get_or_create(db: Session, instance: M, lookup: Sequence[str]) -> tuple[M, bool]:
    """See ``Database.get_or_create``: ``insert_one(instance)`` ``ON CONFLICT (lookup) DO NOTHING``, then
    the row whose lookup fields equal the instance's (retried when the conflicting row vanished in between)."""
    desc = descriptor(type(instance))
    keys = _conflict_columns(desc, lookup, "get_or_create()")
    if not keys:
        raise ValidationError("get_or_create() needs lookup fields")
    insert = _upsert(insert_one(instance), keys, ())
    stored = (column_value(desc.field(col.name), getattr(instance, col.name), model=desc.name) for col in keys)
    existing = select(desc.model).where(*(col == value for col, value in zip(keys, stored, strict=True)))
    for _ in range(GET_OR_CREATE_ATTEMPTS):
        created = await db.execute(insert)
        if created:
            return created[0], True
        found, _ = await db.statement(compile(existing))
        if found:
            return found[0], False
    raise NotFound(f"get_or_create(): {desc.name} kept conflicting on {list(lookup)} yet could not be read back")


async def update_or_create(
    db: Session, instance: M, lookup: Sequence[str], update_fields: Sequence[str] | None
) -> tuple[M, bool]:
    """See ``Database.update_or_create``: ``insert_one(instance)`` ``ON CONFLICT (lookup) DO UPDATE SET ...``
    ``.with_created()`` (PostgreSQL 18's OLD row tells an insert from an update)."""
    desc = descriptor(type(instance))
    if update_fields is None:
        update_fields = [fd.name for fd in desc.fields if fd.kind in ("data", "relation") and fd.name not in lookup
                         and not fd.version and fd.actor != "created"]  # fmt: skip
    target = _conflict_columns(desc, lookup, "update_or_create()")
    update = _conflict_columns(desc, update_fields, "update_or_create()")
    if not update:
        raise ValidationError("update_or_create() has no field to update; use get_or_create()")
    if not target:
        raise ValidationError("update_or_create() needs lookup fields")
    [(row, (created,))] = await db.execute(_upsert(insert_one(instance), target, update).with_created())
    return row, bool(created)
