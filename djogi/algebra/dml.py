"""INSERT / UPDATE / DELETE (and upsert) as frozen values; ``compile`` turns them into SQL.

Rows go as ``VALUES`` (``insert``) or as one array per column read back by ``unnest`` (``insert_many``,
``update_many``: the statements of ``db.bulk_insert`` / ``bulk_upsert`` / ``bulk_update``).

Values bound for a column are checked against its type when the mutation is built (``ValidationError``
naming ``Model.field`` before any SQL exists). Bulk ``update``/``delete`` start from a ``Select`` and keep
only its WHERE clause; they refuse queries that carry read-only modifiers (see ``check_mutable``).
Updates set ``updated_at = now()`` unless the caller assigns it; ``ON CONFLICT DO UPDATE`` does not
(assign it explicitly there, as in the reference).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

import msgspec

from djogi.algebra.expr import Column, Const, Expr, Param, ValueType, now, param_value, text_argument
from djogi.algebra.predicate import TRUE, Pred, predicate
from djogi.algebra.query import Select, check_model, select
from djogi.algebra.sources import Source
from djogi.algebra.traverse import key_hash, same
from djogi.codecs.values import column_value, encode_unnest_cell, sealed, unset_refused
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.identifiers import check_identifier
from djogi.schema import FieldDescriptor, ModelBase, ModelDescriptor, descriptor

if TYPE_CHECKING:
    from djogi.algebra.results import Statement

__all__ = [
    "Delete",
    "ExcludedRow",
    "Insert",
    "InsertFrom",
    "Merge",
    "MergeWhen",
    "OnConflict",
    "Unnest",
    "UnnestRow",
    "Update",
    "check_mutable",
    "delete",
    "delete_one",
    "excluded",
    "get_by_pk",
    "insert",
    "insert_from",
    "insert_many",
    "insert_one",
    "key_condition",
    "key_of",
    "key_text",
    "merge",
    "update",
    "update_many",
    "update_one",
]

M = TypeVar("M", bound=ModelBase)
Assignment = tuple[str, Expr[Any]]


class _Value(msgspec.Struct, frozen=True, kw_only=True):
    """Structural ``==``/``hash`` (fields hold expressions, whose ``==`` builds predicates)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and same(self, other)

    def __hash__(self) -> int:
        return key_hash(self)

    def sql(self) -> Statement:
        """Compile to a ``Statement`` (SQL with ``$n`` placeholders and the parameters)."""
        from djogi.algebra.compile import compile

        return compile(self)  # type: ignore[arg-type]


class ExcludedRow(msgspec.Struct, frozen=True):
    """Stands for the ``EXCLUDED`` row of ``model`` in ``ON CONFLICT DO UPDATE`` (see ``excluded``)."""

    model: Any

    @property
    def __name__(self) -> str:  # how Column.describe() names it
        return f"excluded({self.model.__name__})"


def excluded(col: Column[M, Any]) -> Column[M, Any]:
    """``"excluded"."column"``: the value proposed for insertion, for ``do_update(set=...)``."""
    if not isinstance(col, Column) or isinstance(col.model, ExcludedRow):
        raise ValidationError(f"excluded() takes a model column such as Book.title, not {col!r}")
    return msgspec.structs.replace(col, model=ExcludedRow(col.model))


UNNEST_ALIAS = "__djogi_v"


class UnnestRow(msgspec.Struct, frozen=True):
    """Stands for the row of ``model`` values read from an ``Unnest`` (``"__djogi_v"`` in the SQL)."""

    model: Any

    @property
    def __name__(self) -> str:  # how Column.describe() names it
        return f"unnest({self.model.__name__})"


class Unnest(_Value, frozen=True):
    """Rows sent as one array per column, read back row by row: ``SELECT "__djogi_v"."a", ... FROM
    unnest($1::t[], ...) AS "__djogi_v"("a", ...)``.

    ``arrays`` holds one ``Param`` per column (its values as a tuple, one per row). Where ``elements[i]`` is
    an SQL element type, column ``i`` is an array column sent as ``jsonb[]`` (see
    ``codecs.values.encode_unnest_cell``) and rebuilt as ``elements[i][]``.
    """

    __children__ = ("arrays",)

    columns: tuple[str, ...]
    arrays: tuple[Param[Any], ...]
    elements: tuple[str | None, ...]


class OnConflict(_Value, frozen=True):
    """``ON CONFLICT (target) | ON CONSTRAINT name`` then ``DO NOTHING`` (no assignments) or ``DO UPDATE``."""

    __children__ = ("assignments", "where")

    target: tuple[str, ...] = ()
    constraint: str | None = None
    assignments: tuple[Assignment, ...] = ()
    where: Pred = TRUE


class Insert(_Value, Generic[M], frozen=True):
    """``INSERT INTO "t" (columns) VALUES (...), ... | SELECT ... FROM unnest(...) [ON CONFLICT ...]
    [RETURNING ...[, old."id" IS NULL]]``.

    ``rows`` is a tuple of ``VALUES`` rows, whose cells are expressions (usually a ``Param``), ``Const(None)``
    for NULL or ``None`` for ``DEFAULT``, or an ``Unnest`` (one array per column).
    ``returning`` lists the columns returned (``None``: no RETURNING; the result is the row count);
    ``created`` adds whether each returned row was inserted rather than updated (see ``with_created``).
    """

    __children__ = ("rows", "conflict")

    model: type[M]
    columns: tuple[str, ...]
    rows: tuple[tuple[Expr[Any] | None, ...], ...] | Unnest
    conflict: OnConflict | None = None
    returning: tuple[str, ...] | None = None
    created: bool = False
    old_new: bool = False


    def __post_init__(self) -> None:
        descriptor(self.model).check_writable("insert")
    def on_conflict(self, *target: Column[M, Any], constraint: str | None = None) -> ConflictClause[M]:
        """Start ``ON CONFLICT (target columns)`` or ``ON CONFLICT ON CONSTRAINT constraint``."""
        desc = descriptor(self.model)
        if bool(target) == (constraint is not None):
            raise ValidationError("on_conflict() takes either target columns or constraint=..., exactly one")
        check_model(self.model, "on_conflict()", target)
        if constraint is not None:
            _check_name(constraint)
        return ConflictClause(self, tuple(desc.field(c.name).column for c in target), constraint)

    def with_returning(self, *cols: Column[M, Any]) -> Insert[M]:
        """RETURNING these columns (no arguments: every column); see ``returning_columns``.

        The rows come back as model instances when the columns include every field without a default (the
        fields not returned are ``UNSET``), else as tuples of the columns in canonical order."""
        return msgspec.structs.replace(self, returning=returning_columns(self.model, cols))

    def without_returning(self) -> Insert[M]:
        """No RETURNING clause (unless ``with_created``): the result is the number of inserted rows."""
        return msgspec.structs.replace(self, returning=None)

    def with_created(self) -> Insert[M]:
        """RETURNING also ``old."id" IS NULL`` (PostgreSQL 18's OLD row: true for a row inserted, false for
        one updated by ``ON CONFLICT DO UPDATE``); each row comes back as ``(row, (created,))``, ``row`` as
        ``with_returning`` gives it (every column when there was no RETURNING)."""
        return msgspec.structs.replace(self, created=True)

    def with_old_new(self) -> Insert[M]:
        """RETURNING each row before and after the statement (PostgreSQL 18's ``old.*`` / ``new.*``): rows
        come back as ``(old, new)``, ``old`` None for a row inserted rather than updated by ``ON CONFLICT DO
        UPDATE``; each side holds the ``with_returning`` columns (every column when there was none)."""
        return msgspec.structs.replace(self, old_new=True)


class ConflictClause(Generic[M]):
    """The pending ``ON CONFLICT`` of an ``Insert``: finish it with ``do_nothing`` or ``do_update``."""

    __slots__ = ("constraint", "insert", "target")

    def __init__(self, insert: Insert[M], target: tuple[str, ...], constraint: str | None) -> None:
        self.insert, self.target, self.constraint = insert, target, constraint

    def do_nothing(self) -> Insert[M]:
        """``... DO NOTHING`` (RETURNING then omits the skipped rows)."""
        return msgspec.structs.replace(self.insert, conflict=OnConflict(target=self.target, constraint=self.constraint))

    def do_update(self, set: Mapping[str, object], where: Pred = TRUE) -> Insert[M]:
        """``... DO UPDATE SET col = value, ... [WHERE where]``; refer to the proposed row with ``excluded()``.

        ``updated_at`` is not stamped automatically here: assign it (e.g. ``now()``) when wanted. A version
        field is incremented (as by every update), so copies read before are stale.
        """
        model = self.insert.model
        if not set:
            raise ValidationError("do_update() needs at least one assignment; use do_nothing() otherwise")
        assignments = _bumped(model, _assign(model, set))
        check_model(model, "do_update(where=...)", (where,), also=(ExcludedRow(model),))
        conflict = OnConflict(target=self.target, constraint=self.constraint, assignments=assignments, where=where)
        return msgspec.structs.replace(self.insert, conflict=conflict)


class InsertFrom(_Value, Generic[M], frozen=True):
    """``INSERT INTO "t" (columns) SELECT ... [RETURNING ...]``."""

    __scopes__ = ("source",)

    model: type[M]
    columns: tuple[str, ...]
    source: Select[Any]
    returning: tuple[str, ...] | None = None


    def __post_init__(self) -> None:
        descriptor(self.model).check_writable("insert_from()")
    def with_returning(self, *cols: Column[M, Any]) -> InsertFrom[M]:
        """RETURNING these columns of the inserted rows (no arguments: every column)."""
        return msgspec.structs.replace(self, returning=returning_columns(self.model, cols))


class Update(_Value, Generic[M], frozen=True):
    """``UPDATE "t" SET ... [FROM (<unnest>) AS "__djogi_v"] [WHERE ...] [RETURNING ...]``; ``empty`` when
    built from a ``none()`` query. With a ``source``, assignments and condition may refer to its row
    (columns of ``UnnestRow(model)``)."""

    __children__ = ("assignments", "condition", "source")

    model: type[M]
    assignments: tuple[Assignment, ...]
    condition: Pred = TRUE
    returning: tuple[str, ...] | None = None
    empty: bool = False
    source: Unnest | None = None
    old_new: bool = False


    def __post_init__(self) -> None:
        descriptor(self.model).check_writable("update")
    def with_returning(self, *cols: Column[M, Any]) -> Update[M]:
        """RETURNING these columns of the updated rows (no arguments: every column)."""
        return msgspec.structs.replace(self, returning=returning_columns(self.model, cols))

    def with_old_new(self) -> Update[M]:
        """RETURNING each row before and after the update (``old.*``, ``new.*``): rows come back as
        ``(old, new)``, each with the ``with_returning`` columns (every column when there was none)."""
        return msgspec.structs.replace(self, old_new=True)


class Delete(_Value, Generic[M], frozen=True):
    """``DELETE FROM "t" [WHERE ...] [RETURNING ...]``; ``empty`` when built from a ``none()`` query."""

    __children__ = ("condition",)

    model: type[M]
    condition: Pred = TRUE
    returning: tuple[str, ...] | None = None
    empty: bool = False
    old_new: bool = False


    def __post_init__(self) -> None:
        descriptor(self.model).check_writable("delete")
    def with_returning(self, *cols: Column[M, Any]) -> Delete[M]:
        """RETURNING these columns of the deleted rows (no arguments: every column)."""
        return msgspec.structs.replace(self, returning=returning_columns(self.model, cols))

    def with_old_new(self) -> Delete[M]:
        """RETURNING ``old.*`` and ``new.*``: rows come back as ``(old, None)`` (a deleted row has no new
        version), each with the ``with_returning`` columns (every column when there was none)."""
        return msgspec.structs.replace(self, old_new=True)


# ------------------------------------------------------------------------------------------ helpers


def _check_name(name: str) -> None:
    text_argument(name, "on_conflict(constraint=...)", "books_isbn_key")
    try:
        check_identifier(name, "constraint name")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def returning_columns(model: type[ModelBase], cols: Sequence[Column[Any, Any]]) -> tuple[str, ...]:
    """Column names for RETURNING: ``cols`` in canonical order, or every column when ``cols`` is empty."""
    desc = descriptor(model)
    if not cols:
        return desc.columns
    check_model(model, "returning()", cols)
    wanted = {c.column for c in cols}
    return tuple(c for c in desc.columns if c in wanted)


def _cell(desc: ModelDescriptor, name: str, value: object) -> Expr[Any]:
    """``value`` as the expression assigned to field ``name``: ``NULL``, an expression, or a ``Param`` holding
    the value checked by ``column_value`` (the check every write path makes)."""
    col: Column[Any, Any] = getattr(desc.model, name)
    fd = desc.field(name)
    if fd.generated is not None:  # refused whatever the value (or expression): the one refusal of every write
        column_value(fd, value, model=desc.name)
    if value is None:
        if not col.nullable:
            raise ValidationError(f"{col.describe()} is NOT NULL; cannot set it to None")
        return Const(None)
    if isinstance(value, Expr):
        return col.operand(value)
    t = col.type
    fd = desc.field(name)
    return Param(param_value(t, sealed(fd, column_value(fd, value, model=desc.name), desc.name)), t)


def _assign(
    model: type[ModelBase], changes: Mapping[str, object], also: object = None
) -> tuple[Assignment, ...]:
    """``(column, expression)`` pairs for ``field name -> value or expression``; columns of other models are
    refused, but those of ``also`` (default: the ``excluded`` row)."""
    desc = descriptor(model)
    if not isinstance(changes, Mapping):
        raise ArgumentTypeError(
            f"assignments to {desc.name} take a mapping of field names to values, such as {{'title': 'Dune'}}, "
            f"not {changes!r}"
        )
    also = ExcludedRow(model) if also is None else also
    out: list[Assignment] = []
    for name, value in changes.items():
        try:
            fd = desc.field(name)
        except KeyError as exc:
            raise ValidationError(str(exc.args[0])) from None
        if fd.kind == "pk":
            raise ValidationError(f"{desc.name}.{name} is the primary key and cannot be assigned")
        check_model(model, f"assigning {desc.name}.{name}", (value,), also=(also,))
        out.append((fd.column, _cell(desc, name, value)))
    return tuple(out)


def _bumped(model: type[ModelBase], assignments: tuple[Assignment, ...]) -> tuple[Assignment, ...]:
    """``assignments`` plus ``version = version + 1`` when the model has a version field (so a copy read
    before this update is stale); ``ValidationError`` when the changes assign the version themselves."""
    version = descriptor(model).version_field
    if version is None:
        return assignments
    if any(column == version.column for column, _ in assignments):
        raise ValidationError(f"{descriptor(model).name}.{version.name} is the version counter; djogi increments it")
    counter: Column[Any, int] = getattr(model, version.name)
    return (*assignments, (version.column, counter + 1))


def _stamped(model: type[ModelBase], assignments: tuple[Assignment, ...]) -> tuple[Assignment, ...]:
    """``assignments`` plus ``updated_at = now()`` (the model's update timestamp, if it has one) unless the
    caller assigned it."""
    stamp = descriptor(model).updated_field
    if stamp is None or any(column == stamp.column for column, _ in assignments):
        return assignments
    return (*assignments, (stamp.column, now()))


def _query(q: object, what: str) -> Select[Any]:
    """``q`` when it is a query (``Select``); ``ArgumentTypeError`` naming ``what`` otherwise."""
    if not isinstance(q, Select):
        raise ArgumentTypeError(f"{what} takes a query such as Book.objects.filter(...), not {q!r}")
    return q


def check_mutable(q: Select[Any], what: str) -> None:
    """``ValidationError`` when ``q`` carries something a bulk ``what`` (update/delete) cannot honour:
    limit, offset, distinct, ordering, keyset position, projection/narrowing, a row lock, prefetch, joins, a named
    source, grouping or annotations (filter with ``exists()`` / ``in_query()`` subqueries instead);
    ``ArgumentTypeError`` when ``q`` is not a query."""
    _query(q, f"{what}()")
    problems = [
        name
        for name, present in (
            ("limit", q.row_limit is not None),
            ("offset", q.row_offset is not None),
            ("distinct", q.distinct_all or bool(q.distinct_keys)),
            ("order_by", bool(q.ordering)),
            ("after", q.keyset is not None),
            ("values/only/defer", q.projection is not None or q.selected is not None),
            ("row lock", q.lock is not None),
            ("prefetch", bool(q.prefetches)),
            ("join/select_from", bool(q.joins) or q.source is not None),
            ("group_by/having/annotate", q.grouping is not None or q.having_condition != TRUE or bool(q.annotations)),
        )
        if present
    ]
    if problems:
        raise ValidationError(
            f"{what}() applies to every row the filter matches and does not support {', '.join(problems)}; "
            f"remove {'them' if len(problems) > 1 else 'it'} (filter by primary key to touch chosen rows)"
        )


# ------------------------------------------------------------------------------------------ builders


def insert(model: type[M], rows: Sequence[M]) -> Insert[M]:
    """``INSERT`` of model instances, ``RETURNING`` every column.

    Columns: every field the database does not fill, plus db-filled fields (``id``, ``created_at``,
    ``updated_at``, ``db_default``) that some row sets; a row leaving such a field ``UNSET`` gets
    ``DEFAULT``. ``ValidationError`` for no rows, a row of another model, or a value that does not fit.
    """
    desc = descriptor(model)
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        raise ArgumentTypeError(f"insert({desc.name}) takes a list of {desc.name} instances, not {rows!r}")
    if not rows:
        raise ValidationError(f"insert({desc.name}): no rows given")
    for row in rows:
        if type(row) is not model:
            raise ValidationError(f"insert({desc.name}): {row!r} is not a {desc.name}")
    fields = [
        fd for fd in desc.fields if not fd.db_filled or any(getattr(r, fd.name) is not msgspec.UNSET for r in rows)
    ]
    cells = tuple(
        tuple(
            None if (value := getattr(row, fd.name)) is msgspec.UNSET and fd.db_filled else _cell(desc, fd.name, value)
            for fd in fields
        )
        for row in rows
    )
    return Insert(model=model, columns=tuple(fd.column for fd in fields), rows=cells, returning=desc.columns)


def insert_many(model: type[M], rows: Sequence[M]) -> Insert[M]:
    """``INSERT INTO "t" (columns) SELECT ... FROM unnest($1::t1[], ...) AS "__djogi_v"(columns)``, RETURNING
    every column: the rows sent as one array parameter per column (so the statement text and its parameter
    count do not grow with the rows); ``on_conflict`` applies as to ``insert``. What ``db.bulk_insert`` and
    ``db.bulk_upsert`` run.

    Columns: every field but the database-filled ones (``id``, ``created_at``, ``updated_at``,
    ``db_default``) every row leaves ``UNSET``, which the column defaults fill. Each value is checked as by
    ``insert``. ``ValidationError`` for no rows, a row of another model, a value that does not fit, or a
    database-filled field some rows set and others leave ``UNSET`` (``db.bulk_insert`` generates those values
    first); ``ArgumentTypeError`` when ``rows`` is not a list of rows.
    """
    desc = _many_rows("insert_many", model, rows)
    fields = [
        fd for fd in desc.fields if not fd.db_filled or any(getattr(r, fd.name) is not msgspec.UNSET for r in rows)
    ]
    columns = tuple(fd.column for fd in fields)
    return Insert(model=model, columns=columns, rows=_unnest(desc, fields, rows), returning=desc.columns)


def update_many(model: type[M], rows: Sequence[M], fields: Sequence[str]) -> Update[M]:
    """``UPDATE "t" SET "f" = "__djogi_v"."f", ..., "updated_at" = now() FROM (<unnest of the rows' id and
    fields>) AS "__djogi_v" WHERE "t"."id" = "__djogi_v"."id"``: writes ``fields`` of every saved row in one
    statement (result: the number of rows updated). What ``db.bulk_update`` runs.

    With a version field it also sets ``"version" = "t"."version" + 1`` and matches each row's version
    (``AND "t"."version" = "__djogi_v"."version"``), so a stale row is not updated. Each value is checked as
    by ``update_one``. ``ValidationError`` for no rows, a row of another model or never saved, an unknown
    field, no fields, the key, a timestamp or the version among them, or a value that does not fit;
    ``ArgumentTypeError`` when ``rows`` is not a list of rows or ``fields`` not a list of field names.
    """
    desc = _many_rows("update_many", model, rows)
    if any(getattr(row, fd.name) is msgspec.UNSET for row in rows for fd in desc.key_fields):
        raise ValidationError(
            f"update_many({desc.name}): every {desc.name} must have been created ({key_text(desc)} is UNSET)"
        )
    if not isinstance(fields, Sequence) or isinstance(fields, str | bytes) or not all(type(f) is str for f in fields):
        raise ArgumentTypeError(f"update_many({desc.name}) takes a list of field names, not {fields!r}")
    try:
        targets = [desc.field(name) for name in fields]
    except KeyError as exc:
        raise ValidationError(f"update_many({desc.name}): {exc.args[0]}") from None
    if not targets or any(fd.kind in ("pk", "framework") or fd.version for fd in targets):
        raise ValidationError(
            f"update_many({desc.name}) needs data fields to write (not {key_text(desc)}, timestamps or the version)"
        )
    version = desc.version_field
    keys = [*desc.key_fields, *([version] if version is not None else [])]
    row = UnnestRow(model)
    sent = [getattr(model, fd.name) for fd in (*desc.key_fields, *targets, *([version] if version else []))]
    given = {col.name: msgspec.structs.replace(col, model=row) for col in sent}
    where: Pred = TRUE
    for fd in keys:
        where = where & (getattr(model, fd.name) == given[fd.name])
    assignments = _stamped(model, _bumped(model, tuple((fd.column, given[fd.name]) for fd in targets)))
    source = _unnest(desc, [desc.field(col.name) for col in sent], rows)
    return Update(model=model, assignments=assignments, condition=where, source=source)


def _many_rows(what: str, model: type[M], rows: Sequence[M]) -> ModelDescriptor:
    """``model``'s descriptor; ``ArgumentTypeError`` when ``rows`` is no sequence, ``ValidationError`` when it
    is empty or holds another model's rows."""
    desc = descriptor(model)
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        raise ArgumentTypeError(f"{what}({desc.name}) takes a list of {desc.name} instances, not {rows!r}")
    if not rows:
        raise ValidationError(f"{what}({desc.name}): no rows given")
    others = {type(row) for row in rows} - {model}
    if others:
        names = ", ".join(sorted(getattr(t, "__name__", repr(t)) for t in others))
        raise ValidationError(f"{what}({desc.name}) takes rows of {desc.name} only; got {names}")
    return desc


def _unnest(desc: ModelDescriptor, fields: Sequence[FieldDescriptor], rows: Sequence[ModelBase]) -> Unnest:
    """The ``Unnest`` of ``fields`` of ``rows``: each value checked (``encode_unnest_cell``), one array each."""
    arrays: list[Param[Any]] = []
    elements: list[str | None] = []
    for fd in fields:
        values = list(map(operator.attrgetter(fd.name), rows))
        if any(value is msgspec.UNSET for value in values):
            if not fd.db_filled:
                raise unset_refused(fd, desc.name)
            raise ValidationError(f"{desc.name}.{fd.name} is UNSET in some rows; set it in every row or in none")
        values = [encode_unnest_cell(fd, value, model=desc.name) for value in values]
        element = fd.sql_type[:-2] if fd.value_kind == "array" else None
        arrays.append(Param(tuple(values), ValueType(None, "jsonb[]" if element else f"{fd.sql_type}[]")))
        elements.append(element)
    return Unnest(columns=tuple(fd.column for fd in fields), arrays=tuple(arrays), elements=tuple(elements))


def insert_one(instance: M) -> Insert[M]:
    """``INSERT`` of one instance ``RETURNING`` every column (``insert(type(instance), [instance])``)."""
    return insert(type(instance), [instance])


def insert_from(model: type[M], source: Select[Any], columns: Sequence[Column[M, Any]]) -> InsertFrom[M]:
    """``INSERT INTO "t" (columns) SELECT ...`` (no RETURNING: the result is the row count; see ``with_returning``).

    ``source`` supplies one value per target column: its ``values(...)`` projection, or else its columns
    with the same names. ``ValidationError`` for no columns, repeated columns, a count mismatch, or a
    source with DISTINCT or a row lock.
    """
    desc = descriptor(model)
    _query(source, f"insert_from({desc.name})")
    if not isinstance(columns, Sequence) or isinstance(columns, str | bytes):
        raise ArgumentTypeError(
            f"insert_from({desc.name}) takes a list of columns such as [Book.title], not {columns!r}"
        )
    if not columns:
        raise ValidationError(f"insert_from({desc.name}): no target columns")
    check_model(model, "insert_from()", columns)
    names = tuple(c.column for c in columns)
    if len(set(names)) != len(names):
        raise ValidationError(f"insert_from({desc.name}): a target column is listed twice: {names}")
    if source.lock is not None or source.distinct_all or source.distinct_keys:
        raise ValidationError("insert_from(): the source query cannot carry a row lock or DISTINCT")
    if source.projection is None:
        src = descriptor(source.model)
        try:
            projection = tuple(getattr(source.model, src.field(c.name).name) for c in columns)
        except KeyError as exc:
            raise ValidationError(f"insert_from(): {exc.args[0]}; give the source a values(...) projection") from None
        source = source.values(*projection)
    elif len(source.projection) != len(names):
        raise ValidationError(
            f"insert_from({desc.name}): the source selects {len(source.projection)} values for {len(names)} columns"
        )
    return InsertFrom(model=model, columns=names, source=msgspec.structs.replace(source, into=None))


def update(q: Select[M], **changes: object) -> Update[M]:
    """Bulk ``UPDATE "t" SET col = value|expression, ..., "updated_at" = now() WHERE <q's filter>``.

    Values may be plain values or expressions over the same model (``Book.price * 2``, ``Book.stock + 1``).
    A version field is incremented (``"version" = "t"."version" + 1``), so copies read before are stale.
    ``ValidationError`` (before SQL) for no changes, unknown fields, the primary key, values that do not fit,
    or a query that ``check_mutable`` refuses.
    """
    check_mutable(q, "update")
    if not changes:
        raise ValidationError("update() needs at least one field=value")
    assignments = _bumped(q.model, _assign(q.model, changes))
    return Update(model=q.model, assignments=_stamped(q.model, assignments), condition=q.condition, empty=q.empty)


def delete(q: Select[M]) -> Delete[M]:
    """Bulk ``DELETE FROM "t" WHERE <q's filter>`` (no filter: every row). ``check_mutable`` applies."""
    check_mutable(q, "delete")
    return Delete(model=q.model, condition=q.condition, empty=q.empty)


def key_text(desc: ModelDescriptor) -> str:
    """The key's field names as messages show them (``id``; ``(film, actor)`` for a composite key)."""
    return desc.pk_field.name if not desc.composite else f"({', '.join(desc.primary_key)})"


def key_condition(model: type[ModelBase], key: object, what: str) -> Pred:
    """``"t"."id" = $1`` (``"t"."a" = $1 AND "t"."b" = $2`` for a composite key, ``key`` then a tuple of
    values in key order); ``ValidationError`` for a composite key given as anything else."""
    desc = descriptor(model)
    if not desc.composite:
        return cast("Pred", getattr(model, desc.pk_field.name) == key)
    if not isinstance(key, tuple) or len(key) != len(desc.primary_key):
        raise ValidationError(
            f"{what}: {desc.name} has the composite key {key_text(desc)}; pass a tuple of "
            f"{len(desc.primary_key)} values, not {key!r}"
        )
    where: Pred = TRUE
    for fd, value in zip(desc.key_fields, key, strict=True):
        where = where & (getattr(model, fd.name) == value)
    return where


def key_of(instance: ModelBase) -> Any:
    """The key value of ``instance`` (a tuple of values for a composite key; may hold ``UNSET``)."""
    desc = descriptor(type(instance))
    if not desc.composite:
        return getattr(instance, desc.pk_field.name)
    return tuple(getattr(instance, name) for name in desc.primary_key)


def _saved_pk(instance: ModelBase, what: str) -> tuple[ModelDescriptor, Pred]:
    """The descriptor and ``id = $pk [AND version = $v]`` of a saved instance; ``ValidationError`` if unsaved."""
    model = type(instance)
    desc = descriptor(model)
    if any(getattr(instance, name) is msgspec.UNSET for name in desc.primary_key):
        raise ValidationError(f"{what}: this {desc.name} was never saved (its {key_text(desc)} is UNSET)")
    where = key_condition(model, key_of(instance), what)
    version = desc.version_field
    if version is not None:
        where = where & (getattr(model, version.name) == getattr(instance, version.name))
    return desc, where


def update_one(instance: M, changes: Mapping[str, object] | None = None) -> Update[M]:
    """``UPDATE "t" SET <changes>, "updated_at" = now() WHERE "t"."id" = $n RETURNING <every column>``.

    ``changes`` maps field names to new values (``None``: the whole row from ``instance``, every data and
    relation field, ``db_default`` ones included, except generated columns and fields left ``UNSET``). With
    a version field the statement also sets ``version = version + 1`` and adds ``AND "t"."version" = $m``:
    zero rows updated means the row moved on (the executor raises
    ``StaleObject``). ``ValidationError`` for an unsaved instance, unknown or framework fields.
    """
    model = type(instance)
    desc, where = _saved_pk(instance, "update_one()")
    if changes is None:
        whole = (fd for fd in desc.fields
                 if fd.kind in ("data", "relation") and not fd.version and fd.auto is None and fd.generated is None)
        changes = {fd.name: value for fd in whole if (value := getattr(instance, fd.name)) is not msgspec.UNSET}
    assignments = _bumped(model, _assign(model, changes))
    return Update(model=model, assignments=_stamped(model, assignments), condition=where, returning=desc.columns)


def delete_one(instance: M) -> Delete[M]:
    """``DELETE FROM "t" WHERE "t"."id" = $1 [AND "t"."version" = $2]`` (result: the row count).

    The version test makes deleting a stale copy affect zero rows, like ``update_one``.
    """
    desc, where = _saved_pk(instance, "delete_one()")
    return Delete(model=desc.model, condition=where)


def get_by_pk(model: type[M], pk: object) -> Select[M]:
    """``SELECT <every column> FROM "t" WHERE "t"."id" = $1`` (run it with ``one()``)."""
    return select(model).where(key_condition(model, pk, "get()"))


# ------------------------------------------------------------------------------------------ MERGE

MergeAction = Literal["update", "delete", "insert", "nothing"]


class MergeWhen(_Value, frozen=True):
    """``WHEN [NOT] MATCHED [AND condition] THEN UPDATE SET ... | DELETE | INSERT (columns) VALUES (...) |
    DO NOTHING``; an insert's ``None`` value is ``DEFAULT``."""

    __children__ = ("condition", "assignments", "values")

    matched: bool
    action: MergeAction
    condition: Pred = TRUE
    assignments: tuple[Assignment, ...] = ()
    columns: tuple[str, ...] = ()
    values: tuple[Expr[Any] | None, ...] = ()


class Merge(_Value, Generic[M], frozen=True):
    """``MERGE INTO "t" USING <source> ON <on> WHEN ... [RETURNING <columns>, merge_action()]``.

    Built by ``merge``; the ``when_*`` methods add the arms, tried in order (the first whose condition holds
    acts on a row). With ``with_returning`` each row comes back as ``(row, (action,))``, ``action`` being
    ``"INSERT"``, ``"UPDATE"`` or ``"DELETE"`` (a deleted row as it was)."""

    __children__ = ("using", "on", "whens")

    model: type[M]
    using: Source
    on: Pred
    whens: tuple[MergeWhen, ...] = ()
    returning: tuple[str, ...] | None = None


    def __post_init__(self) -> None:
        descriptor(self.model).check_writable("merge()")
    def _arm(self, arm: MergeWhen) -> Merge[M]:
        predicate(arm.condition, "a merge arm's where")
        check_model(self.model, "merge() condition", (arm.condition,), also=(self.using.ref,))
        return msgspec.structs.replace(self, whens=(*self.whens, arm))

    def when_matched_update(self, set: Mapping[str, object], where: Pred = TRUE) -> Merge[M]:
        """``WHEN MATCHED [AND where] THEN UPDATE SET ...``: values or expressions over the target and the
        source (``updated_at = now()`` and a version increment added, as by every update)."""
        if not _mapping(set, "when_matched_update()"):
            raise ValidationError("when_matched_update() needs at least one assignment")
        assignments = _stamped(self.model, _bumped(self.model, _assign(self.model, set, self.using.ref)))
        return self._arm(MergeWhen(matched=True, action="update", condition=where, assignments=assignments))

    def when_matched_delete(self, where: Pred = TRUE) -> Merge[M]:
        """``WHEN MATCHED [AND where] THEN DELETE``."""
        return self._arm(MergeWhen(matched=True, action="delete", condition=where))

    def when_matched_do_nothing(self, where: Pred = TRUE) -> Merge[M]:
        """``WHEN MATCHED [AND where] THEN DO NOTHING``."""
        return self._arm(MergeWhen(matched=True, action="nothing", condition=where))

    def when_not_matched_insert(self, values: Mapping[str, object], where: Pred = TRUE) -> Merge[M]:
        """``WHEN NOT MATCHED [AND where] THEN INSERT (...) VALUES (...)``: ``values`` maps field names to
        values or expressions over the source; every field without a default must be given (the columns the
        database fills get ``DEFAULT``). ``ValidationError`` otherwise."""
        desc = descriptor(self.model)
        _mapping(values, "when_not_matched_insert()")
        missing = [fd.name for fd in desc.fields if not fd.has_default and fd.name not in values]
        if missing:
            raise ValidationError(f"when_not_matched_insert(): {desc.name} needs a value for {missing}")
        given = dict(_assign(self.model, values, self.using.ref))
        columns = tuple(fd.column for fd in desc.fields if fd.column in given or not fd.db_filled)
        cells = tuple(
            given[fd.column] if fd.column in given else _cell(desc, fd.name, _default(fd))
            for fd in desc.fields if fd.column in columns
        )  # fmt: skip
        return self._arm(MergeWhen(matched=False, action="insert", condition=where, columns=columns, values=cells))

    def when_not_matched_do_nothing(self, where: Pred = TRUE) -> Merge[M]:
        """``WHEN NOT MATCHED [AND where] THEN DO NOTHING``."""
        return self._arm(MergeWhen(matched=False, action="nothing", condition=where))

    def with_returning(self, *cols: Column[M, Any]) -> Merge[M]:
        """RETURNING these columns of each row acted on (no arguments: every column) and ``merge_action()``."""
        return msgspec.structs.replace(self, returning=returning_columns(self.model, cols))


def _mapping(x: object, what: str) -> Mapping[str, object]:
    if not isinstance(x, Mapping):
        raise ArgumentTypeError(f"{what} takes a mapping of field names to values such as {{'qty': 1}}, not {x!r}")
    return x


def _default(fd: FieldDescriptor) -> object:
    return fd.default_factory() if fd.default_factory is not None else fd.default


def merge(model: type[M], using: Source, on: Pred) -> Merge[M]:
    """``MERGE INTO "t" USING <using> ON <on>``: ``using`` is a source (``derived(query, "name")``,
    ``aliased(Model, "name")`` or a CTE) whose columns the arms may use. Add arms with ``when_*``.

    ``ArgumentTypeError`` when ``using`` is not a source; ``ValidationError`` for an ``on`` naming columns
    of other models.
    """
    descriptor(model)
    if not isinstance(using, Source) or using.name is None:
        raise ArgumentTypeError(f"merge(using=...) takes a named source such as derived(query, 'src'), not {using!r}")
    check_model(model, "merge(on=...)", (predicate(on, "merge(on=...)"),), also=(using.ref,))
    return Merge(model=model, using=using, on=on)
