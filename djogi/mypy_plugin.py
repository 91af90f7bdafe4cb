"""mypy plugin: class-level field access on a djogi model is a typed column reference.

For ``class Book(Model, table="books")`` with ``price: Decimal``, mypy types ``Book.price`` as
``djogi.algebra.expr.Column[Book, Decimal]`` (instance access ``book.price`` stays ``Decimal``). Relation
fields (``author: ForeignKey[Author]``) are typed by the target model, ``Column[Book, Author]``; ``UNSET``
is dropped from the framework fields (``Book.created_at`` is ``Column[Book, datetime]``).

Enable it with ``plugins = ["djogi.mypy_plugin"]`` in ``[tool.mypy]``.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import ImportAll, ImportFrom, MypyFile, NameExpr, TypeInfo, Var
from mypy.plugin import AttributeContext, ClassDefContext, Plugin
from mypy.types import AnyType, CallableType, Instance, Type, TypeType, UnionType, get_proper_type

MODEL = "djogi.model.Model"
COLUMN = "djogi.algebra.expr.Column"
SELECT = "djogi.algebra.query.Select"
EXPR_MODULE = "djogi.algebra.expr"
QUERY_MODULE = "djogi.algebra.query"
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
    """Types class-level field access on djogi models as ``Column[Model, T]``, and ``objects`` as ``Select[Model]``."""

    def get_additional_deps(self, file: MypyFile) -> list[tuple[int, str, int]]:
        """Load ``djogi.algebra.expr`` wherever djogi is imported, so ``Column`` can be named."""
        for imp in file.imports:
            ids = [imp.id] if isinstance(imp, ImportFrom | ImportAll) else [i for i, _ in imp.ids]  # type: ignore[attr-defined]
            if any(i == "djogi" or i.startswith("djogi.") for i in ids):
                return [(10, EXPR_MODULE, -1), (10, QUERY_MODULE, -1)]
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

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        return _model_defaults if fullname == MODEL or self._is_model(fullname) else None

    def _is_model(self, fullname: str) -> bool:
        sym = self.lookup_fully_qualified(fullname)
        return sym is not None and isinstance(sym.node, TypeInfo) and sym.node.has_base(MODEL)


def _model_defaults(ctx: ClassDefContext) -> None:
    """Model subclasses are frozen and keyword-only (``ModelMeta`` sets both); tell the dataclass transform."""
    for keyword in ("frozen", "kw_only"):
        if keyword not in ctx.cls.keywords:
            true = NameExpr("True")
            true.fullname = "builtins.True"
            ctx.cls.keywords[keyword] = true


def plugin(version: str) -> type[Plugin]:
    """mypy entry point."""
    return DjogiPlugin
