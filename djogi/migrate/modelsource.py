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
from collections import Counter
from collections.abc import Iterable

import msgspec

from djogi.errors import DjogiError
from djogi.migrate.snapshot import (
    ColumnSchema,
    DomainSchema,
    EnumSchema,
    IndexSchema,
    PrimaryKeySchema,
    Snapshot,
    TableSchema,
    Unmodelled,
    ViewSchema,
    max_length_of,
    owned_sequence,
    printed_name,
)

__all__ = ["InspectError", "model_source"]


class InspectError(DjogiError):
    """A table or column of the database cannot be declared exactly as a djogi model."""


_SCALARS = {
    "TEXT": ("str", None), "BIGINT": ("int", None), "INTEGER": ("djogi.Integer", None),
    "SMALLINT": ("djogi.SmallInt", None), "DOUBLE PRECISION": ("float", None), "BOOLEAN": ("bool", None),
    "NUMERIC": ("Decimal", None), "DATE": ("dt.date", None), "TIMESTAMPTZ": ("dt.datetime", None),
    "TIME": ("dt.time", None), "INTERVAL": ("dt.timedelta", None), "UUID": ("uuid.UUID", None),
    "BYTEA": ("bytes", None), "JSONB": ("Any", None), "REAL": ("float", "REAL"), "TSVECTOR": ("djogi.TsVector", None),
    "TIMESTAMP": ("djogi.NaiveDateTime", None),
}  # fmt: skip
_VECTOR = re.compile(r"vector\(\d+\)")
_PK_KINDS = {
    "HeerIdRecencyBiased": None, "HeerId": "djogi.HeerId", "RanjId": "djogi.RanjId",
    "RanjIdRecencyBiased": "djogi.RanjIdDesc", "Serial": "djogi.Serial",
}  # fmt: skip
_ON_DELETE = {
    "Restrict": "restrict", "Cascade": "cascade", "SetNull": "set null", "SetDefault": "set default",
    "NoAction": "no action",
}  # fmt: skip
_NUMERIC = re.compile(r"NUMERIC\((\d+), (\d+)\)")
_COLLATE = re.compile(r'(.*) COLLATE "((?:[^"]|"")*)"')


class _Field(msgspec.Struct, frozen=True):
    """One field as it will be written: ``name: annotation`` plus its ``field()`` options."""

    name: str
    column: str
    annotation: str
    options: tuple[tuple[str, str], ...]
    nullable: bool
    unset: bool  # a key the database fills, or a generated column: declared with the default msgspec.UNSET


def model_source(
    snapshot: Snapshot, *, tables: Iterable[str] | None = None, unmodelled: Iterable[Unmodelled] = ()
) -> str:  # fmt: skip
    """The source of a models module declaring ``tables`` of ``snapshot`` (all of them when None), the enums
    and domains they use, and nothing else; an outbox table (``TableSchema.outbox``) is declared
    ``outbox=True`` and its companion table left out (``outbox=True`` declares it). ``InspectError`` for an
    unknown table, one that cannot be declared exactly, or one with a constraint of ``unmodelled`` (what
    ``introspect.catalog`` found beside the snapshot: no model could declare it)."""
    chosen = sorted(snapshot.models) if tables is None else list(dict.fromkeys(tables))
    views = [v for v in (sorted(snapshot.views) if tables is None else chosen) if v in snapshot.views]
    chosen = [t for t in chosen if t not in snapshot.views]
    companions = {t.outbox for name, t in snapshot.models.items() if t.outbox and name in chosen}
    chosen = [t for t in chosen if t not in companions]
    unknown = [t for t in chosen if t not in snapshot.models]
    if unknown:
        known = ", ".join(sorted([*snapshot.models, *snapshot.views]))
        raise InspectError(f"no table {', '.join(unknown)} in the database (known: {known})")
    undeclarable = [u for u in unmodelled if u.table in chosen]
    if undeclarable:
        shown = "; ".join(f"{u.table}.{u.name}: {u.what}" for u in undeclarable[:3])
        more = f" (and {len(undeclarable) - 3} more)" if len(undeclarable) > 3 else ""
        raise InspectError(f"models cannot declare {shown}{more}")
    names = {t: class_name(t) for t in [*chosen, *views]}
    domains = {printed_name(d.name): d for d in snapshot.domains.values()}
    enum_names = {e.name: class_name(e.name) for e in snapshot.enums.values()}
    enum_names |= {key: class_name(d.name) for key, d in domains.items()}  # named types: enums and domains
    framework = {t: _framework(snapshot.models[t]) for t in chosen}
    fields_of = {t: _field_names(snapshot.models[t], framework[t]) for t in chosen}
    used_enums: set[str] = set()
    classes = []
    for table in _dependency_order({t: snapshot.models[t] for t in chosen}):
        schema = snapshot.models[table]
        targets = Counter(c.foreign_key.ref_table for c in schema.columns if c.foreign_key is not None)
        fields = [
            _field(schema, c, fields_of, snapshot.models, names, enum_names, used_enums, targets)
            for c in schema.columns if c.name not in framework[table]
        ]  # fmt: skip
        indexes = [i for i in snapshot.indexes if i.table == table]
        constraints = _table_constraints(schema, fields_of, names)
        classes.append(_class(schema, names[table], fields, indexes, framework[table], constraints))
    classes += [_view(snapshot.views[v], names[v], enum_names, used_enums) for v in views]
    enums = [_enum(snapshot.enums[e], enum_names[e]) for e in sorted(used_enums) if e not in domains]
    aliases = [_domain(domains[d], enum_names[d], enum_names) for d in sorted(used_enums) if d in domains]
    written = [names[t] for t in [*chosen, *views]] + [enum_names[e] for e in used_enums]
    clashes = sorted({n for n in written if written.count(n) > 1})
    if clashes:
        raise InspectError(f"tables, enum types or domains {clashes} would be classes of the same name; inspect "
                           "them apart")  # fmt: skip
    header = (
        '"""Models written by ``djogi db inspect``: one per table, as the database has it."""\n\n'
        "from __future__ import annotations\n\n"
        "import datetime as dt\nimport uuid\nfrom decimal import Decimal\n"
        f"from typing import {'Annotated, Any, TypeAlias' if aliases else 'Any'}\n\n"
        "import msgspec\n\nimport djogi\n"
        f"from djogi import Check, CompositeForeignKey, {'Domain, ' if aliases else ''}Field, ForeignKey, Index, "
        "IndexColumn, Model, field"
    )
    enums += aliases
    if any(snapshot.models[t].partition for t in chosen):
        header += "\nfrom djogi import Partition, PartitionBy"
    if any(a is not None and a.exclude for a in (snapshot.models[t].audit for t in chosen)):
        header += "\nfrom djogi import Audit"
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


def _framework(schema: TableSchema) -> tuple[str, ...]:
    """The columns djogi declares itself that ``schema`` has as djogi declares them: ``id`` when the key is
    djogi's (a HeeRanjID kind, or ``Serial``'s INTEGER identity), the timestamps when both are djogi's
    (``TIMESTAMPTZ NOT NULL DEFAULT now()``). The model declares the others as fields."""
    used: list[str] = []
    key, column = schema.primary_key, schema.column("id")
    if key.columns == ("id",) and isinstance(key.kind, str) and key.kind in _PK_KINDS and column is not None:
        serial = column.sql_type == "INTEGER" and column.identity == "ByDefault"
        if column.foreign_key is None and (key.kind != "Serial" or serial):
            used.append("id")
    stamps = [schema.column(name) for name in ("created_at", "updated_at")]
    djogis = ("TIMESTAMPTZ", False, "now()", None)
    if all(c is not None and (c.sql_type, c.nullable, c.default_sql, c.identity) == djogis for c in stamps):
        used += ["created_at", "updated_at"]
    return tuple(used)


def _field_names(schema: TableSchema, framework: tuple[str, ...]) -> dict[str, str]:
    """Column -> field name for the columns ``schema`` declares as fields: the column's name (a foreign key's
    without ``_id``), with ``_`` appended while it is not a usable, unique attribute name. ``id`` is
    reserved unless it is the key's only column; the timestamps' names when djogi declares them."""
    reserved = {"objects", *framework}
    if schema.primary_key.columns != ("id",):
        reserved.add("id")
    out: dict[str, str] = {}
    for column in schema.columns:
        if column.name in framework:
            continue
        name = column.name
        if column.foreign_key is not None and name.endswith("_id") and len(name) > 3:
            name = name.removesuffix("_id")
        while not name.isidentifier() or keyword.iskeyword(name) or name in reserved or name in out.values():
            name = f"{name}_" if name.isidentifier() else "f_" + re.sub(r"\W", "_", name)
        out[column.name] = name
    return out


def _field(
    table: TableSchema, column: ColumnSchema, fields_of: dict[str, dict[str, str]], tables: dict[str, TableSchema],
    names: dict[str, str], enum_names: dict[str, str], used_enums: set[str], targets: Counter[str],
) -> _Field:  # fmt: skip
    where = f"{table.table}.{column.name}"
    name = fields_of[table.table][column.name]
    options: list[tuple[str, str]] = []
    key = table.primary_key.columns
    if key == (column.name,):  # a key column reaching here is declared (djogi's own id is not a field)
        options.append(("primary_key", "True"))
    if column.foreign_key is not None:
        fk = column.foreign_key
        if fk.ref_table not in names:
            raise InspectError(f"{where}: references table {fk.ref_table}, which is not being inspected; "
                               "inspect it too")  # fmt: skip
        annotation = f"ForeignKey[{names[fk.ref_table]}]"
        if f"{name}_id" != column.name:
            options.append(("column", _lit(column.name)))
        target = tables[fk.ref_table]
        if target.primary_key.columns != (fk.ref_column,):
            options.append(("to_field", _lit(fields_of[fk.ref_table][fk.ref_column])))
        if fk.on_delete != "Restrict":
            options.append(("on_delete", _lit(_ON_DELETE[fk.on_delete])))
        if fk.on_update is not None:
            options.append(("on_update", _lit(_ON_DELETE[fk.on_update])))
        options += [(k, "True") for k in ("deferrable", "initially_deferred") if getattr(fk, k)]
        if targets[fk.ref_table] > 1:  # two relations to one model need reverse accessors of their own
            options.append(("related_name", _lit(f"{table.table}_{name}")))
        sql_type, collation = _collation(column.sql_type)
    else:
        if name != column.name:
            options.append(("column", _lit(column.name)))
        sql_type, collation = _collation(column.sql_type)
        annotation = _value_type(where, sql_type, enum_names, used_enums, options)
    if collation is not None:
        options.append(("collation", _lit(collation)))
    if column.generated is not None:
        options.append(("generated", _lit(column.generated.expression)))
        options += [] if column.generated.stored else [("virtual", "True")]
    filled = column.identity is not None or column.default_sql is not None
    if column.identity is not None:
        options.append(("identity", _lit("by default" if column.identity == "ByDefault" else "always")))
    elif (sequence := owned_sequence(column.default_sql)) is not None:
        options.append(("sequence", _lit(sequence)))
    elif column.default_sql is not None:
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
    if column.outbox_exclude:
        options.append(("outbox_exclude", "True"))
    unset = (filled and column.name in key) or column.generated is not None
    return _Field(name, column.name, annotation, tuple(options), column.nullable, unset)


def _collation(sql_type: str) -> tuple[str, str | None]:
    """``TEXT COLLATE "C"`` -> (``TEXT``, ``C``); a type without a collation -> (it, None)."""
    found = _COLLATE.fullmatch(sql_type)
    return (sql_type, None) if found is None else (found.group(1), found.group(2).replace('""', '"'))


def _call(callee: str, args: list[str], indent: int) -> str:
    """``callee(...)`` with ``args``, one per line when it would not fit on a line at ``indent``."""
    flat = f"{callee}({', '.join(args)})"
    if indent + len(flat) <= 110:
        return flat
    pad = " " * (indent + 4)
    return f"{callee}(" + "".join(f"\n{pad}{a}," for a in args) + f"\n{' ' * indent})"


def _tuple(items: list[str]) -> str:
    """A tuple display of ``items`` (source text)."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _lit(text: str) -> str:
    """``text`` as a double-quoted Python str literal."""
    return json.dumps(text, ensure_ascii=False)


def _value_type(
    where: str, sql_type: str, enum_names: dict[str, str], used_enums: set[str], options: list[tuple[str, str]]
) -> str:
    """The annotation of a column of ``sql_type``, adding the ``field()`` options it needs to ``options``."""
    if sql_type.endswith("[]"):
        return f"list[{_value_type(where, sql_type[:-2], enum_names, used_enums, options)}]"
    if sql_type in enum_names:
        used_enums.add(sql_type)
        return enum_names[sql_type]
    if (length := max_length_of(sql_type)) is not None:
        options.append(("max_length", str(length)) if sql_type.startswith("VARCHAR") else ("sql_type", _lit(sql_type)))
        return "str"
    if (numeric := _NUMERIC.fullmatch(sql_type)) is not None:
        options += [("precision", numeric.group(1)), ("scale", numeric.group(2))]
        return "Decimal"
    if _VECTOR.fullmatch(sql_type):
        options.append(("sql_type", _lit(sql_type.upper())))
        return "djogi.Vector"
    if sql_type in _SCALARS:
        annotation, override = _SCALARS[sql_type]
        if override is not None:
            options.append(("sql_type", _lit(override)))
        return annotation
    raise InspectError(f"{where}: type {sql_type} has no djogi field type yet")


def _table_constraints(schema: TableSchema, fields_of: dict[str, dict[str, str]], names: dict[str, str]) -> list[str]:
    """The ``checks=`` and ``foreign_keys=`` options of a table with CHECK constraints or composite foreign
    keys (the target named by its class name, so that it may be declared later)."""
    options = []
    if schema.checks:
        checks = [_call("Check", [f"name={_lit(c.name)}", f"expression={_lit(c.expression)}"], 8)
                  for c in schema.checks]  # fmt: skip
        options.append("".join(["checks=(", *(f"\n        {c}," for c in checks), "\n    )"]))
    fks = []
    for fk in schema.foreign_keys:
        if fk.ref_table not in names:
            raise InspectError(f"{schema.table}.{fk.name}: references table {fk.ref_table}, which is not being "
                               "inspected; inspect it too")  # fmt: skip
        args = [f"fields={_tuple([_lit(fields_of[schema.table][c]) for c in fk.columns])}",
                f"target={_lit(names[fk.ref_table])}",
                f"to_fields={_tuple([_lit(fields_of[fk.ref_table][c]) for c in fk.ref_columns])}",
                f"name={_lit(fk.name)}"]  # fmt: skip
        if fk.on_delete != "Restrict":
            args.append(f"on_delete={_lit(_ON_DELETE[fk.on_delete])}")
        if fk.on_update is not None:
            args.append(f"on_update={_lit(_ON_DELETE[fk.on_update])}")
        args += [f"{k}=True" for k in ("deferrable", "initially_deferred") if getattr(fk, k)]
        fks.append(_call("CompositeForeignKey", args, 8))
    if fks:
        options.append("".join(["foreign_keys=(", *(f"\n        {f}," for f in fks), "\n    )"]))
    return options


def _class(
    schema: TableSchema, name: str, fields: list[_Field], indexes: list[IndexSchema], framework: tuple[str, ...],
    constraints: list[str],
) -> str:  # fmt: skip
    options = [f"table={_lit(schema.table)}"]
    key = schema.primary_key
    base = "Model"
    if "id" in framework:
        marker = _PK_KINDS[str(key.kind)]
        base = "Model" if marker is None else f"Model[{marker}]"
    elif len(key.columns) > 1:
        by_column = {f.column: f.name for f in fields}
        options.append(f"primary_key={_tuple([_lit(by_column[c]) for c in key.columns])}")
    elif not key.columns:
        raise InspectError(f"table {schema.table}: a table without a primary key cannot be declared")
    if "created_at" not in framework:
        options.append("timestamps=False")
    if schema.table_comment is not None:
        options.append(f"comment={_lit(schema.table_comment)}")
    if schema.rls_enabled != (schema.tenant_key is not None):
        raise InspectError(f"table {schema.table}: row-level security without djogi's tenant isolation policy "
                           "cannot be declared")  # fmt: skip
    if schema.tenant_key is not None:
        options.append(f"tenant_key={_lit(next(f.name for f in fields if f.column == schema.tenant_key))}")
    if schema.audit is not None:
        excluded = [_lit(next(f.name for f in fields if f.column == c)) for c in schema.audit.exclude]
        options.append(f"audit=Audit(exclude={_tuple(excluded)})" if excluded else "audit=True")
    if schema.outbox is not None:
        options.append("outbox=True")
    by_column = {f.column: f.name for f in fields}
    partitioned = _partitioning(schema, {**by_column, **{c: c for c in framework}})
    options += partitioned
    declared = [_index(schema.table, i, by_column) for i in indexes]
    inline = "".join(f", indexes=({_call('Index', i, 0)},)" for i in declared[:1])
    head = f"class {name}({base}, {', '.join(options)}{inline}):"
    if len(head) > 110 or len(declared) > 1 or partitioned or constraints:
        if declared:
            options.append("".join(["indexes=(", *(f"\n        {_call('Index', i, 8)}," for i in declared), "\n    )"]))
        options += constraints
        head = "\n    ".join([f"class {name}(", f"{base},", *(f"{o}," for o in options)]) + "\n):"
    lines = [head]
    for f in sorted(fields, key=lambda f: f.nullable or f.unset):
        lines.append(f"    {f.name}: {_declaration(f)}")
    if len(lines) == 1:
        lines.append("    pass")
    return "\n".join(lines)


def _view(view: ViewSchema, name: str, enum_names: dict[str, str], used_enums: set[str]) -> str:
    """A view model: ``view=djogi.sql(<the server's text>)``, its kind and a materialized view's indexes, one
    optional field per output column (the catalog does not say which a view can leave NULL) and no key."""
    columns = tuple(ColumnSchema(name=c.name, sql_type=c.sql_type, nullable=True) for c in view.columns)
    shape = TableSchema(table=view.name, columns=columns, primary_key=PrimaryKeySchema(columns=(), kind="None"))
    fields_of = {view.name: _field_names(shape, ())}
    fields = [_field(shape, c, fields_of, {}, {}, enum_names, used_enums, Counter()) for c in columns]
    options = [f"table={_lit(view.name)}", f"view=djogi.sql({_lit(view.definition)})"]
    if view.materialized:
        options += ["materialized=True"] + ([] if view.with_data else ["with_data=False"])
    declared = [_index(view.name, i, fields_of[view.name]) for i in view.indexes]
    if declared:
        options.append("".join(["indexes=(", *(f"\n        {_call('Index', i, 8)}," for i in declared), "\n    )"]))
    head = "\n    ".join([f"class {name}(", "Model,", *(f"{o}," for o in options)]) + "\n):"
    return "\n".join([head, *(f"    {f.name}: {_declaration(f)}" for f in fields)])


def _declaration(f: _Field) -> str:
    """``Field[T] = field(options, default=None)`` (``ForeignKey[...]`` for a relation) for one field; a key
    the database fills is ``Field[T | msgspec.UnsetType] = field(options, default=msgspec.UNSET)``."""
    annotation = f"{f.annotation} | msgspec.UnsetType" if f.unset else f.annotation
    if f.nullable:
        quoted = annotation.startswith("ForeignKey[\"")
        annotation = f'{annotation[:-2]} | None"]' if quoted else f"{annotation[:-1]} | None]" if (
            annotation.startswith("ForeignKey[")) else f"{annotation} | None"
    if not annotation.startswith("ForeignKey["):
        annotation = f"Field[{annotation}]"
    default = ["default=msgspec.UNSET"] if f.unset else ["default=None"] if f.nullable else []
    args = [f"{k}={v}" for k, v in f.options] + default
    return annotation + (f" = field({', '.join(args)})" if args else "")


_KEY = re.compile(r"(RANGE|LIST|HASH) \((.+)\)")
_HASH = re.compile(r"FOR VALUES WITH \(modulus (\d+), remainder (\d+)\)")
_RANGE = re.compile(r"FOR VALUES FROM \((.*)\) TO \((.*)\)")
_IN = re.compile(r"FOR VALUES IN \((.*)\)")
_VALUE = re.compile(r"(-?\d+)|'((?:[^']|'')*)'|(MINVALUE|MAXVALUE)")


def _partitioning(schema: TableSchema, by_column: dict[str, str]) -> list[str]:
    """The ``partition_by=`` and ``partitions=`` options of a partitioned table (none for another): the key
    must be columns of the table (not expressions) and each bound one the ``Partition`` constructors write."""
    if schema.partition is None:
        return []
    key = _KEY.fullmatch(schema.partition.key)
    columns = {printed_name(c): c for c in by_column}
    fields = [by_column[columns[c]] for c in key.group(2).split(", ") if c in columns] if key else []
    if key is None or len(fields) != len(key.group(2).split(", ")):
        raise InspectError(f"table {schema.table}: partition key {schema.partition.key} is not a list of its "
                           "columns")  # fmt: skip
    parts = []
    for part in schema.partition.partitions:
        where = f"table {schema.table}: partition {part.name} ({part.bound})"
        if part.partition_key is not None:
            raise InspectError(f"{where}: sub-partitioned partitions cannot be declared yet")
        if part.bound == "DEFAULT":
            parts.append(f"Partition.default({_lit(part.name)})")
        elif (hashed := _HASH.fullmatch(part.bound)) is not None:
            parts.append(f"Partition.hash({_lit(part.name)}, {hashed.group(1)}, {hashed.group(2)})")
        elif (ranged := _RANGE.fullmatch(part.bound)) is not None:
            sides = [_bound_values(where, ranged.group(i)) for i in (1, 2)]
            bounds = ", ".join(_tuple(v) if len(v) > 1 else v[0] for v in sides)
            parts.append(f"Partition.range({_lit(part.name)}, {bounds})")
        elif (listed := _IN.fullmatch(part.bound)) is not None:
            parts.append(f"Partition.list({_lit(part.name)}, {', '.join(_bound_values(where, listed.group(1)))})")
        else:
            raise InspectError(f"{where}: this bound cannot be declared yet")
    method = key.group(1).lower()
    listed_parts = "".join(f"\n        {p}," for p in parts)
    return [f"partition_by=PartitionBy.{method}({', '.join(map(_lit, fields))})", f"partitions=({listed_parts}\n    )"]


def _bound_values(where: str, text: str) -> list[str]:
    """Python source of each value of a bound's list: ints, strings, ``None`` for MINVALUE/MAXVALUE."""
    values, rest = [], text
    while rest:
        found = _VALUE.match(rest)
        if found is None:
            raise InspectError(f"{where}: this bound value cannot be declared yet")
        number, string, unbounded = found.groups()
        values.append(number if number is not None else "None" if unbounded else _lit(string.replace("''", "'")))
        rest = rest[found.end():].removeprefix(", ")
    return values


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


def _domain(schema: DomainSchema, name: str, type_names: dict[str, str]) -> str:
    """``Name: TypeAlias = Annotated[<base annotation>, Domain(...)]`` for a domain (the base type's own field
    options are carried by ``base``, which the domain's values are checked as)."""
    annotation = _value_type(f"domain {schema.name}", schema.base_type, type_names, set(), [])
    args = [f"name={_lit(schema.name)}", f"base={_lit(schema.base_type)}"]
    if schema.checks:
        checks = [f"Check(name={_lit(c.name)}, expression={_lit(c.expression)})" for c in schema.checks]
        args.append(f"checks={_tuple(checks)}")
    if schema.not_null:
        args.append("not_null=True")
    if schema.default_sql is not None:
        args.append(f"default={_lit(schema.default_sql)}")
    flat = f"{name}: TypeAlias = Annotated[{annotation}, {_call('Domain', args, 0)}]"
    wrapped = f"{name}: TypeAlias = Annotated[\n    {annotation},\n    {_call('Domain', args, 4)},\n]"
    return flat if len(flat) <= 110 else wrapped


def _enum(schema: EnumSchema, name: str) -> str:
    members = [f"    {_member(label, i)} = {_lit(label)}" for i, label in enumerate(schema.variants)]
    return "\n".join([f"class {name}(djogi.Enum):", f"    __pg_name__ = {_lit(schema.name)}", *members])


def _member(label: str, position: int) -> str:
    name = re.sub(r"\W+", "_", label).strip("_").upper()
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"V{position}_{name}"

