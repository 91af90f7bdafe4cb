"""mypy plugin: class-level field access on a djogi model is a typed column reference.

For ``class Book(Model, table="books")`` with ``price: Decimal``, mypy types ``Book.price`` as
``djogi.algebra.expr.Column[Book, Decimal]`` (instance access ``book.price`` stays ``Decimal``). Relation
fields (``author: ForeignKey[Author]``) are typed by the target model, ``Column[Book, Author]``; ``UNSET``
is dropped from the framework fields (``Book.created_at`` is ``Column[Book, datetime]``).

Reverse accessors are typed too: ``Author.books`` is ``djogi.algebra.relations.Related[Author, Book]`` when
``Book.author`` is a ``ForeignKey[Author]``/``OneToOne[Author]`` (the name is ``Book``'s table name, or the
literal ``field(related_name=...)``); any other missing class attribute of a model is an error. The source
model must be in a module mypy has processed (imported, directly or not, by the module using the accessor).

Enable it with ``plugins = ["djogi.mypy_plugin"]`` in ``[tool.mypy]``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from typing import Any

from mypy.errorcodes import ATTR_DEFINED
from mypy.nodes import AssignmentStmt, ImportAll, ImportFrom, MypyFile, NameExpr, StrExpr, TypeInfo, Var
from mypy.options import Options
from mypy.plugin import AttributeContext, ClassDefContext, Plugin
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    Type,
    TypeOfAny,
    TypeType,
    UnionType,
    flatten_nested_unions,
    get_proper_type,
)

MODEL = "djogi.model.Model"
COLUMN = "djogi.algebra.expr.Column"
SELECT = "djogi.algebra.query.Select"
EXPR_MODULE = "djogi.algebra.expr"
QUERY_MODULE = "djogi.algebra.query"
RELATED = "djogi.algebra.relations.Related"
RELATIONS_MODULE = "djogi.algebra.relations"
META_GETATTRIBUTE = "djogi.model.ModelMeta."
METADATA_KEY = "djogi"
UNSET_TYPE = "msgspec.UnsetType"


def _model_of(ctx: AttributeContext) -> TypeInfo | None:
    """The model class whose attribute is accessed (``Book`` in ``Book.price`` or ``cls.price``)."""
    t = get_proper_type(ctx.type)
    if isinstance(t, CallableType) and t.is_type_obj():
        info = t.type_object()
    elif isinstance(t, TypeType) and isinstance(t.item, Instance):
        info = t.item.type
    else:
        return None
    return info if info.has_base(MODEL) else None


def _value_type(declared: Type) -> Type:
    """The field's value type: ``UNSET`` dropped; ``Any | Author`` (a relation) narrowed to ``Author``."""
    proper = get_proper_type(declared)
    if not isinstance(proper, UnionType):
        return declared
    kept = [
        item
        for item in proper.items
        if not isinstance(get_proper_type(item), AnyType)
        and not (isinstance(p := get_proper_type(item), Instance) and p.type.fullname == UNSET_TYPE)
    ]
    if len(kept) == len(proper.items):
        return declared
    return kept[0] if len(kept) == 1 else UnionType.make_union(kept) if kept else declared


def _column_hook(column: TypeInfo, name: str) -> Callable[[AttributeContext], Type]:
    def hook(ctx: AttributeContext) -> Type:
        info = _model_of(ctx)
        if info is None or ctx.is_lvalue:
            return ctx.default_attr_type
        sym = info.get(name)
        if sym is None or not isinstance(sym.node, Var) or sym.node.is_classvar:
            return ctx.default_attr_type
        return Instance(column, [Instance(info, []), _value_type(ctx.default_attr_type)])

    return hook


def _objects_hook(select: TypeInfo) -> Callable[[AttributeContext], Type]:
    def hook(ctx: AttributeContext) -> Type:
        info = _model_of(ctx)
        return ctx.default_attr_type if info is None else Instance(select, [Instance(info, [])])

    return hook


class DjogiPlugin(Plugin):
    """Types class-level field access on djogi models as ``Column[Model, T]``, ``objects`` as ``Select[Model]``
    and reverse accessors as ``Related[Target, Source]``."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._index: dict[tuple[str, str], list[tuple[TypeInfo, str]]] = {}
        self._index_key = (-1, -1)
        self._generation = 0

    def get_additional_deps(self, file: MypyFile) -> list[tuple[int, str, int]]:
        """Load ``djogi.algebra.expr`` wherever djogi is imported, so ``Column`` can be named."""
        for imp in file.imports:
            ids = [imp.id] if isinstance(imp, ImportFrom | ImportAll) else [i for i, _ in imp.ids]  # type: ignore[attr-defined]
            if any(i == "djogi" or i.startswith("djogi.") for i in ids):
                return [(10, EXPR_MODULE, -1), (10, QUERY_MODULE, -1), (10, RELATIONS_MODULE, -1)]
        return []

    def get_class_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        class_name, _, attr = fullname.rpartition(".")
        if attr.startswith("_"):
            return None
        if attr == "objects":
            select = self.lookup_fully_qualified(SELECT)
            if self._is_model(class_name) and select is not None and isinstance(select.node, TypeInfo):
                return _objects_hook(select.node)
            return None
        column = self.lookup_fully_qualified(COLUMN)
        if not self._is_model(class_name) or column is None or not isinstance(column.node, TypeInfo):
            return None
        return _column_hook(column.node, attr)

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        """A class attribute mypy can't find on a model reaches ``ModelMeta.__getattribute__``: a reverse
        accessor (``Author.books``) or an error."""
        if not fullname.startswith(META_GETATTRIBUTE):
            return None
        name = fullname[len(META_GETATTRIBUTE) :]
        related = self.lookup_fully_qualified(RELATED)
        if related is None or not isinstance(related.node, TypeInfo):
            return None
        return _reverse_hook(related.node, name, self._reverse_index)

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        return self._model_defaults if fullname == MODEL or self._is_model(fullname) else None

    def _model_defaults(self, ctx: ClassDefContext) -> None:
        _model_defaults(ctx)
        self._generation += 1  # a model was (re)analysed: the reverse index is out of date

    def _reverse_index(self) -> dict[tuple[str, str], list[tuple[TypeInfo, str]]]:
        """``(target fullname, accessor) -> [(source model, field)]`` over the models of every loaded module,
        rebuilt when a module was loaded or a model analysed since."""
        modules = self._modules or {}
        key = (len(modules), self._generation)
        if self._index_key != key:
            self._index, self._index_key = _build_reverse_index(modules), key
        return self._index

    def _is_model(self, fullname: str) -> bool:
        sym = self.lookup_fully_qualified(fullname)
        return sym is not None and isinstance(sym.node, TypeInfo) and sym.node.has_base(MODEL)


def _model_defaults(ctx: ClassDefContext) -> None:
    """Model subclasses are frozen and keyword-only (``ModelMeta`` sets both); tell the dataclass transform.

    Also records, in the class's (cached) metadata, its table name and the literal ``related_name`` of
    its fields, which mypy drops with the ``Annotated`` metadata: the reverse accessors are named from them.
    """
    table = ctx.cls.keywords.get("table")
    for keyword in ("frozen", "kw_only"):
        if keyword not in ctx.cls.keywords:
            true = NameExpr("True")
            true.fullname = "builtins.True"
            ctx.cls.keywords[keyword] = true
    module = ctx.api.modules.get(ctx.api.cur_mod_id)
    annotated = {
        lvalue.name
        for stmt in ctx.cls.defs.body
        if isinstance(stmt, AssignmentStmt) and stmt.unanalyzed_type is not None
        for lvalue in stmt.lvalues
        if isinstance(lvalue, NameExpr)
    }
    ctx.cls.info.metadata[METADATA_KEY] = {
        "concrete": table is not None,
        "table": table.value if isinstance(table, StrExpr) else None,
        "related_names": _related_names(module.path if module else "", ctx.cls.name, ctx.cls.line, annotated),
    }


_SOURCE_CACHE: dict[str, tuple[int, ast.Module | None]] = {}


def _related_names(path: str, cls: str, line: int, fields: set[str]) -> dict[str, str | None]:
    """``field -> related_name`` for the fields of class ``cls`` (at ``line`` of ``path``) annotated with a
    ``field(related_name=...)``; ``None`` when it isn't a string literal (the accessor is then unknown)."""
    if not fields:
        return {}
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return {}
    if _SOURCE_CACHE.get(path, (None,))[0] != mtime:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            _SOURCE_CACHE[path] = (mtime, ast.parse(text) if "related_name" in text else None)
        except (OSError, SyntaxError, ValueError):
            _SOURCE_CACHE[path] = (mtime, None)
    tree = _SOURCE_CACHE[path][1]
    if tree is None:
        return {}
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls]
    node = next((n for n in classes if n.lineno == line), classes[0] if len(classes) == 1 else None)
    found: dict[str, str | None] = {}
    for stmt in node.body if node else ():
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id in fields):
            continue
        for call in ast.walk(stmt.annotation):
            for kw in call.keywords if isinstance(call, ast.Call) else ():
                if kw.arg == "related_name":
                    value = kw.value.value if isinstance(kw.value, ast.Constant) else None
                    found[stmt.target.id] = value if isinstance(value, str) else None
    return found


def _relation_target(declared: Type | None) -> TypeInfo | None:
    """The target model of a relation field (declared ``Any | Author``, maybe ``| None``), else ``None``."""
    proper = get_proper_type(declared)
    if not isinstance(proper, UnionType):
        return None
    items = [get_proper_type(item) for item in flatten_nested_unions(proper.items)]
    models = [i.type for i in items if isinstance(i, Instance) and i.type.has_base(MODEL)]
    return models[0] if len(models) == 1 and any(isinstance(i, AnyType) for i in items) else None


def _build_reverse_index(modules: dict[str, MypyFile]) -> dict[tuple[str, str], list[tuple[TypeInfo, str]]]:
    index: dict[tuple[str, str], list[tuple[TypeInfo, str]]] = {}
    seen: set[str] = set()
    stack = [sym.node for module in list(modules.values()) for sym in list(module.names.values())]
    while stack:
        info = stack.pop()
        if not isinstance(info, TypeInfo) or info.fullname in seen:
            continue
        seen.add(info.fullname)
        stack.extend(sym.node for sym in info.names.values() if isinstance(sym.node, TypeInfo))  # nested classes
        meta = info.metadata.get(METADATA_KEY)
        if meta and meta.get("concrete"):
            for field, accessor, target in _relations(info, meta):
                index.setdefault((target.fullname, accessor), []).append((info, field))
    return index


def _relations(info: TypeInfo, meta: dict[str, Any]) -> list[tuple[str, str, TypeInfo]]:
    """``(field, reverse accessor, target)`` for the relation fields of the concrete model ``info``, its own and
    those of its abstract model bases."""
    out: list[tuple[str, str, TypeInfo]] = []
    done: set[str] = set()
    for base in info.mro:
        base_meta = base.metadata.get(METADATA_KEY)
        if base_meta is None:
            continue
        related_names = base_meta.get("related_names", {})
        for name, sym in base.names.items():
            var = sym.node
            if name in done or not isinstance(var, Var) or var.is_classvar:
                continue
            done.add(name)
            target = _relation_target(var.type)
            accessor = related_names[name] if name in related_names else meta.get("table")
            if target is not None and accessor:
                out.append((name, accessor, target))
    return out


def _reverse_hook(
    related: TypeInfo, name: str, index: Callable[[], dict[tuple[str, str], list[tuple[TypeInfo, str]]]]
) -> Callable[[AttributeContext], Type]:
    def hook(ctx: AttributeContext) -> Type:
        info = _model_of(ctx)
        if info is None:
            return ctx.default_attr_type
        found = index().get((info.fullname, name), []) if info.metadata.get(METADATA_KEY, {}).get("concrete") else []
        if len(found) == 1:
            return Instance(related, [Instance(info, []), Instance(found[0][0], [])])
        if found:
            named = " and ".join(f"{source.name}.{field}" for source, field in found)
            ctx.api.fail(
                f'"{info.name}.{name}" is ambiguous: it is the reverse of {named}; name them with '
                "field(related_name=...) or use reverse(...)",
                ctx.context,
                code=ATTR_DEFINED,
            )
        else:
            ctx.api.fail(f'"type[{info.name}]" has no attribute "{name}"', ctx.context, code=ATTR_DEFINED)
        return AnyType(TypeOfAny.from_error)

    return hook


def plugin(version: str) -> type[Plugin]:
    """mypy entry point."""
    return DjogiPlugin
