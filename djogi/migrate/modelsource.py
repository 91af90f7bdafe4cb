"""A schema snapshot -> the Python source of the models that declare it (pure), for ``djogi db inspect``.

``model_source(snapshot)`` writes one ``djogi.Enum`` per enum type and one model per table, in an order
where every model follows the models it references (a reference cycle is written as a quoted forward
reference). Projecting the generated models gives back the snapshot's structure, so composing against the
inspected database reports no change. A table or column the declaration vocabulary cannot state exactly
raises ``InspectError`` naming it and saying why: nothing is approximated.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Iterable

import msgspec

from djogi.errors import DjogiError
from djogi.migrate.snapshot import (
    ColumnSchema,
    EnumSchema,
    IndexSchema,
    Snapshot,
    TableSchema,
    max_length_of,
)

__all__ = ["InspectError", "model_source"]


class InspectError(DjogiError):
    """A table or column of the database cannot be declared exactly as a djogi model."""


_FRAMEWORK = ("id", "created_at", "updated_at")
_SCALARS = {
    "TEXT": ("str", None), "BIGINT": ("int", None), "INTEGER": ("djogi.Integer", None),
    "SMALLINT": ("djogi.SmallInt", None), "DOUBLE PRECISION": ("float", None), "BOOLEAN": ("bool", None),
    "NUMERIC": ("Decimal", None), "DATE": ("dt.date", None), "TIMESTAMPTZ": ("dt.datetime", None),
    "TIME": ("dt.time", None), "INTERVAL": ("dt.timedelta", None), "UUID": ("uuid.UUID", None),
    "BYTEA": ("bytes", None), "JSONB": ("Any", None), "REAL": ("float", "REAL"),
}  # fmt: skip
_PK_KINDS = {
    "HeerIdRecencyBiased": None, "HeerId": "djogi.HeerId", "RanjId": "djogi.RanjId",
    "RanjIdRecencyBiased": "djogi.RanjIdDesc", "Serial": "djogi.Serial",
}  # fmt: skip
_ON_DELETE = {"Cascade": "cascade", "SetNull": "set null", "SetDefault": "set default", "NoAction": "no action"}
_NUMERIC = re.compile(r"NUMERIC\((\d+), (\d+)\)")


class _Field(msgspec.Struct, frozen=True):
    """One field as it will be written: ``name: annotation`` plus its ``field()`` options."""

    name: str
    column: str
    annotation: str
    options: tuple[tuple[str, str], ...]
    nullable: bool


def model_source(snapshot: Snapshot, *, tables: Iterable[str] | None = None) -> str:
    """The source of a models module declaring ``tables`` of ``snapshot`` (all of them when None), the enums
    they use, and nothing else. ``InspectError`` for an unknown table or one that cannot be declared exactly."""
    chosen = sorted(snapshot.models) if tables is None else list(dict.fromkeys(tables))
    unknown = [t for t in chosen if t not in snapshot.models]
    if unknown:
        known = ", ".join(sorted(snapshot.models))
        raise InspectError(f"no table {', '.join(unknown)} in the database (known: {known})")
    names = {t: class_name(t) for t in chosen}
    enum_names = {e.name: class_name(e.name) for e in snapshot.enums.values()}
    order = _dependency_order({t: snapshot.models[t] for t in chosen})
    used_enums: set[str] = set()
    classes = []
    declared: set[str] = set()
    for table in order:
        schema = snapshot.models[table]
        fields = [_field(schema, c, names, declared | {table}, enum_names, used_enums)
                  for c in schema.columns if c.name not in _FRAMEWORK]  # fmt: skip
        _check_framework(schema)
        indexes = [i for i in snapshot.indexes if i.table == table]
        classes.append(_class(schema, names[table], fields, indexes))
        declared.add(table)
    enums = [_enum(snapshot.enums[e], enum_names[e]) for e in sorted(used_enums)]
    header = (
        '"""Models written by ``djogi db inspect``: one per table, as the database has it."""\n\n'
        "from __future__ import annotations\n\n"
        "import datetime as dt\nimport uuid\nfrom decimal import Decimal\nfrom typing import Annotated, Any\n\n"
        "import djogi\nfrom djogi import ForeignKey, Index, IndexColumn, Model, field"
    )
    return "\n\n\n".join([header, *enums, *classes]).rstrip() + "\n"


def class_name(table: str) -> str:
    """``order_lines`` -> ``OrderLines``: a table or type name as a class name."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", table) if part)
    return name if name.isidentifier() and not name[:1].isdigit() else f"T{name}"


def _dependency_order(tables: dict[str, TableSchema]) -> list[str]:
    """Tables sorted so each follows those it references (ties and cycles: by name)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(table: str) -> None:
        if table in order or table in visiting:
            return
        visiting.add(table)
        for column in tables[table].columns:
            ref = column.foreign_key.ref_table if column.foreign_key else None
            if ref in tables and ref != table:
                visit(ref)
        visiting.discard(table)
        order.append(table)

    for table in sorted(tables):
        visit(table)
    return order


def _check_framework(schema: TableSchema) -> None:
    """The table has djogi's key and timestamp columns as djogi declares them."""
    where = f"table {schema.table}"
    if schema.primary_key.columns != ("id",):
        raise InspectError(f"{where}: primary key {schema.primary_key.columns} is not a column named id")
    kind = schema.primary_key.kind
    if not isinstance(kind, str) or kind not in _PK_KINDS:
        raise InspectError(f"{where}: the key column id ({kind}) is not one of djogi's key kinds")
    for stamp in ("created_at", "updated_at"):
        column = schema.column(stamp)
        if column is None or column.sql_type != "TIMESTAMPTZ" or column.nullable or column.default_sql != "now()":
            raise InspectError(f"{where}: no {stamp} TIMESTAMPTZ NOT NULL DEFAULT now() column")


def _field(
    table: TableSchema, column: ColumnSchema, names: dict[str, str], declared: set[str],
    enum_names: dict[str, str], used_enums: set[str],
) -> _Field:  # fmt: skip
    where = f"{table.table}.{column.name}"
    options: list[tuple[str, str]] = []
    if column.foreign_key is not None:
        fk = column.foreign_key
        if fk.ref_table not in names:
            raise InspectError(f"{where}: references table {fk.ref_table}, which is not being inspected; "
                               "inspect it too")  # fmt: skip
        if fk.ref_column != "id":
            raise InspectError(f"{where}: references {fk.ref_table}.{fk.ref_column}, not its key column id")
        target = names[fk.ref_table]
        annotation = f"ForeignKey[{target if fk.ref_table in declared else _lit(target)}]"
        name = column.name.removesuffix("_id") if column.name.endswith("_id") else column.name
        if name != column.name or not _usable(name):
            name = name if _usable(name) else f"{name}_"
        if f"{name}_id" != column.name:
            options.append(("column", _lit(column.name)))
        if fk.on_delete != "Restrict":
            options.append(("on_delete", _lit(_ON_DELETE[fk.on_delete])))
        options += [(k, "True") for k in ("deferrable", "initially_deferred") if getattr(fk, k)]
    else:
        name = column.name if _usable(column.name) else f"{column.name}_"
        if name != column.name:
            options.append(("column", _lit(column.name)))
        annotation = _value_type(where, column.sql_type, enum_names, used_enums, options)
    if column.identity is not None or column.generated is not None:
        raise InspectError(f"{where}: identity/generated data columns cannot be declared yet")
    if column.default_sql is not None:
        options.append(("db_default", _lit(column.default_sql)))
    if column.unique and column.foreign_key is None:
        options.append(("unique", "True"))
    by_default = column.foreign_key is not None and not column.unique  # a ForeignKey gets a btree index
    kind = column.index_type
    if column.indexed and kind is not None and kind != "BTree":
        options.append(("index", _lit(kind.lower())))
    elif column.indexed and not by_default:
        options.append(("index", "True"))
    elif not column.indexed and by_default:
        options.append(("index", "False"))
    options += [(k, _lit(v)) for k in ("check", "comment") if (v := getattr(column, k)) is not None]
    return _Field(name, column.name, annotation, tuple(options), column.nullable)


def _call(args: list[str], indent: int) -> str:
    """``Index(...)`` with ``args``, one per line when it would not fit on a line at ``indent``."""
    flat = f"Index({', '.join(args)})"
    if indent + len(flat) <= 110:
        return flat
    pad = " " * (indent + 4)
    return "Index(" + "".join(f"\n{pad}{a}," for a in args) + f"\n{' ' * indent})"


def _tuple(items: list[str]) -> str:
    """A tuple display of ``items`` (source text)."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _lit(text: str) -> str:
    """``text`` as a double-quoted Python str literal."""
    return json.dumps(text, ensure_ascii=False)


def _usable(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name not in _FRAMEWORK and name != "objects"


def _value_type(
    where: str, sql_type: str, enum_names: dict[str, str], used_enums: set[str], options: list[tuple[str, str]]
) -> str:
    """The annotation of a column of ``sql_type``, adding the ``field()`` options it needs to ``options``."""
    if sql_type.endswith("[]"):
        return f"list[{_value_type(where, sql_type[:-2], enum_names, used_enums, options)}]"
    if sql_type in enum_names:
        used_enums.add(sql_type)
        return enum_names[sql_type]
    if (length := max_length_of(sql_type)) is not None and sql_type.startswith("VARCHAR"):
        options.append(("max_length", str(length)))
        return "str"
    if (numeric := _NUMERIC.fullmatch(sql_type)) is not None:
        options += [("precision", numeric.group(1)), ("scale", numeric.group(2))]
        return "Decimal"
    if sql_type in _SCALARS:
        annotation, override = _SCALARS[sql_type]
        if override is not None:
            options.append(("sql_type", _lit(override)))
        return annotation
    raise InspectError(f"{where}: type {sql_type} has no djogi field type yet")


def _class(schema: TableSchema, name: str, fields: list[_Field], indexes: list[IndexSchema]) -> str:
    options = [f"table={_lit(schema.table)}"]
    pk_marker = _PK_KINDS[schema.primary_key.kind] if isinstance(schema.primary_key.kind, str) else None
    if pk_marker is not None:
        options.append(f"pk={pk_marker}")
    if schema.table_comment is not None:
        options.append(f"comment={_lit(schema.table_comment)}")
    if schema.rls_enabled != (schema.tenant_key is not None):
        raise InspectError(f"table {schema.table}: row-level security without djogi's tenant isolation policy "
                           "cannot be declared")  # fmt: skip
    if schema.tenant_key is not None:
        options.append(f"tenant_key={_lit(next(f.name for f in fields if f.column == schema.tenant_key))}")
    by_column = {f.column: f.name for f in fields}
    declared = [_index(schema.table, i, by_column) for i in indexes]
    head = f"class {name}(Model, {', '.join(options)}{''.join(f', indexes=({_call(i, 0)},)' for i in declared[:1])}):"
    if len(head) > 110 or len(declared) > 1:
        if declared:
            options.append("".join(["indexes=(", *(f"\n        {_call(i, 8)}," for i in declared), "\n    )"]))
        head = "\n    ".join([f"class {name}(", "Model,", *(f"{o}," for o in options)]) + "\n):"
    lines = [head]
    for f in sorted(fields, key=lambda f: f.nullable):
        annotation = f"{f.annotation} | None" if f.nullable else f.annotation
        if f.options:
            annotation = f"Annotated[{annotation}, field({', '.join(f'{k}={v}' for k, v in f.options)})]"
        lines.append(f"    {f.name}: {annotation}" + (" = None" if f.nullable else ""))
    if len(lines) == 1:
        lines.append("    pass")
    return "\n".join(lines)


def _index(table: str, index: IndexSchema, by_column: dict[str, str]) -> list[str]:
    """The arguments of an ``Index(...)`` for a model's ``indexes=``."""
    args = []
    keys = index.target.columns
    if keys is None:
        raise InspectError(f"index {index.name} on {table}: expression indexes cannot be declared yet")
    parts = []
    for key in keys:
        field_name = by_column.get(key.name)
        if field_name is None:
            raise InspectError(f"index {index.name} on {table}: column {key.name} is not a declared field")
        settings = (("order", key.order, "Asc"), ("nulls", key.nulls, "Default"))
        extra = [(k, _lit(v.lower())) for k, v, default in settings if v != default]
        if key.opclass is not None:
            extra.append(("opclass", _lit(key.opclass)))
        if extra:
            parts.append(f"IndexColumn(name={_lit(field_name)}, {', '.join(f'{k}={v}' for k, v in extra)})")
        else:
            parts.append(_lit(field_name))
    args.append(f"columns={_tuple(parts)}")
    args.append(f"name={_lit(index.name)}")
    if index.kind == "UniqueConstraint":
        raise InspectError(f"index {index.name} on {table}: multi-column UNIQUE constraints cannot be declared yet")
    if index.kind == "UniqueIndex":
        args.append("unique=True")
    if index.index_type != "BTree":
        args.append(f"method={index.index_type.lower()}")
    if index.predicate is not None:
        args.append(f"where={_lit(index.predicate)}")
    if index.include:
        args.append(f"include={_tuple([_lit(by_column[c]) for c in index.include])}")
    if index.nulls_not_distinct:
        args.append("nulls_not_distinct=True")
    return args


def _enum(schema: EnumSchema, name: str) -> str:
    members = [f"    {_member(label, i)} = {_lit(label)}" for i, label in enumerate(schema.variants)]
    return "\n".join([f"class {name}(djogi.Enum):", f"    __pg_name__ = {_lit(schema.name)}", *members])


def _member(label: str, position: int) -> str:
    name = re.sub(r"\W+", "_", label).strip("_").upper()
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"V{position}_{name}"

