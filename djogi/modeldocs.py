"""Model reference docs: one Markdown page per model plus an index (pure rendering, then one write).

``render(descriptors)`` returns ``{relative path: text}``: ``README.md`` (the index, one section per
app) and ``<app or _global_>/<Model>.md`` with the model's table, primary key, fields (SQL type,
nullability, defaults, notes), indexes and relations. Output depends only on the descriptors, in a
fixed order, so regenerating unchanged models gives identical bytes. ``write(pages, directory)``
writes the pages and deletes stale ``.md`` files left in ``directory`` by earlier runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from djogi.identifiers import derived_name
from djogi.model import FieldDescriptor, Index, ModelDescriptor

GLOBAL_APP_DIR = "_global_"
INDEX_PAGE = "README.md"
_PK_KINDS = {
    "HeerId": "HeerId (ascending)",
    "HeerIdRecencyBiased": "HeerId (recency-biased)",
    "RanjId": "RanjId (ascending)",
    "RanjIdRecencyBiased": "RanjId (recency-biased)",
    "Serial": "Serial",
    "Assigned": "assigned by the application",
    "Composite": "composite",
}


def page_path(desc: ModelDescriptor) -> PurePosixPath:
    """Where a model's page lives, relative to the docs directory."""
    return PurePosixPath(desc.app or GLOBAL_APP_DIR) / f"{desc.name}.md"


def render(descriptors: Iterable[ModelDescriptor]) -> dict[str, str]:
    """Every page, keyed by relative POSIX path, in a deterministic order."""
    ordered = sorted(descriptors, key=lambda d: (d.app or "", d.name, d.database, d.table))
    by_model = {d.model: d for d in ordered}
    by_name = {d.name: d for d in ordered}
    referrers: dict[str, list[tuple[ModelDescriptor, FieldDescriptor]]] = {}
    for desc in ordered:
        for fd in desc.relations:
            target = _target(fd, by_model, by_name)
            if target is not None:
                referrers.setdefault(target.name, []).append((desc, fd))
    pages = {str(page_path(d)): _model_page(d, by_model, by_name, referrers.get(d.name, [])) for d in ordered}
    return {INDEX_PAGE: _index_page(ordered), **pages}


def write(pages: Mapping[str, str], directory: Path) -> list[Path]:
    """Write ``pages`` under ``directory``; delete other ``.md`` files there. Return the written paths."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {(directory / rel).resolve() for rel in pages}
    for stale in sorted(directory.rglob("*.md")):
        if stale.resolve() not in wanted:
            stale.unlink()
    written = []
    for rel, text in pages.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for folder in sorted((p for p in directory.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return written


def _index_page(ordered: list[ModelDescriptor]) -> str:
    lines = ["# Djogi model reference", ""]
    current: str | None = None
    for desc in ordered:
        app_dir = desc.app or GLOBAL_APP_DIR
        if app_dir != current:
            if current is not None:
                lines.append("")
            lines += [f"## {app_dir}", ""]
            current = app_dir
        lines.append(f"- [`{desc.name}`](./{page_path(desc)}): table `{desc.table}`")
    return "\n".join(lines) + "\n"


def _model_page(
    desc: ModelDescriptor,
    by_model: Mapping[object, ModelDescriptor],
    by_name: Mapping[str, ModelDescriptor],
    referrers: list[tuple[ModelDescriptor, FieldDescriptor]],
) -> str:
    pk = _PK_KINDS.get(desc.pk.kind, f"Custom({desc.pk.sql_type}, default {desc.pk.default_sql})")
    lines = [
        f"# {desc.name}",
        "",
        f"- App: `{desc.app}`" if desc.app else "- App: `<global>`",
        f"- Table: `{desc.table}`",
        f"- Database: `{desc.database}`",
        f"- PK kind: {pk}",
    ]
    if desc.soft_delete is not None:
        lines.append(f"- Soft delete: `{desc.field(desc.soft_delete).column}` (`db.delete` sets it)")
    if desc.through is not None:
        lines.append("- Through: " + ", ".join(f"`{getattr(m, '__name__', m)}`" for m in desc.through))
    if desc.comment:
        lines += ["", f"> {_cell(desc.comment)}"]
    lines += ["", "## Fields", "", "| Name | SQL type | Nullable | Default | Notes |", "|---|---|---|---|---|"]
    lines += [f"| `{fd.column}` | `{fd.sql_type}` | {'yes' if fd.nullable else 'no'} | {_default(fd)} | "
              f"{_cell('; '.join(_notes(fd)))} |" for fd in desc.fields]
    indexes = _indexes(desc)
    lines += ["", "## Indexes", ""]
    if indexes:
        lines += ["| Name | Kind | Method | Target | Notes |", "|---|---|---|---|---|", *indexes]
    else:
        lines.append("None.")
    lines += ["", "## Relations", ""]
    if desc.relations:
        lines += ["| Column | Kind | Target | On delete |", "|---|---|---|---|"]
        for fd in desc.relations:
            assert fd.relation is not None
            kind = "OneToOne" if fd.relation.kind == "o2o" else "ForeignKey"
            target = _target(fd, by_model, by_name)
            shown = f"`{fd.relation.target}`"
            if target is not None:
                ref = target.field(fd.relation.to_field) if fd.relation.to_field else target.pk_field
                shown = _link(desc, target) + f" (`{target.table}.{ref.column}`)"
            lines.append(f"| `{fd.column}` | {kind} | {shown} | {fd.relation.on_delete.upper().replace('_', ' ')} |")
    else:
        lines.append("None.")
    if referrers:
        lines += ["", "## Referenced by", ""]
        lines += [f"- {_link(desc, other)}.`{fd.column}`" for other, fd in
                  sorted(referrers, key=lambda r: (r[0].app or "", r[0].name, r[1].column))]
    return "\n".join(lines) + "\n"


def _target(
    fd: FieldDescriptor, by_model: Mapping[object, ModelDescriptor], by_name: Mapping[str, ModelDescriptor]
) -> ModelDescriptor | None:
    assert fd.relation is not None
    target = fd.relation.target
    return by_name.get(target) if isinstance(target, str) else by_model.get(target)


def _link(source: ModelDescriptor, target: ModelDescriptor) -> str:
    here = source.app or GLOBAL_APP_DIR
    there = target.app or GLOBAL_APP_DIR
    href = f"./{target.name}.md" if here == there else f"../{there}/{target.name}.md"
    return f"[`{target.name}`]({href})"


def _default(fd: FieldDescriptor) -> str:
    if fd.identity:
        return "identity"
    if fd.db_default is not None:
        return f"`{_cell(fd.db_default)}` (database)"
    if fd.default_factory is not None:
        return f"`{_cell(getattr(fd.default_factory, '__qualname__', 'factory'))}()`"
    if fd.has_default:
        value = fd.default.value if isinstance(fd.default, enum.Enum) else fd.default
        return f"`{_cell(repr(value))}`"
    return ""


def _notes(fd: FieldDescriptor) -> list[str]:
    notes = [f"attribute `{fd.name}`"] if fd.name != fd.column else []
    notes += {"pk": ["primary key"], "framework": ["set by the database"]}.get(fd.kind, [])
    if fd.unique:
        notes.append("unique")
    if fd.index:
        notes.append(f"indexed ({fd.index})")
    if fd.version:
        notes.append("optimistic-lock version")
    if fd.actor is not None:
        notes.append(f"actor: the acting user ({fd.actor})")
    if fd.sequence_within is not None:
        notes.append(f"numbered within `{fd.sequence_within}`")
    if fd.idempotency_key:
        notes.append("idempotency key")
    if fd.enum_type is not None:
        notes.append("enum: " + ", ".join(f"`{member.value}`" for member in fd.enum_type))
    if fd.check:
        notes.append(f"CHECK `{fd.check}`")
    if fd.renamed_from:
        notes.append(f"renamed from `{fd.renamed_from}`")
    if fd.exposure:
        notes.append("exposed to " + ", ".join(a if form == "id" else f"{a} ({form})" for a, form in fd.exposure))
    if fd.protected is not None:
        guard = fd.protected
        notes.append(f"protected: {guard.sensitivity}, {guard.rationale}"
                     + (f"; redaction {guard.redaction}" if guard.redaction != "none" else "")
                     + "".join(f"; {a}: {r}" for a, r in guard.per_audience)
                     + ("; encrypted at rest" if guard.encrypt else ""))  # fmt: skip
    if fd.comment:
        notes.append(fd.comment)
    return notes


def _indexes(desc: ModelDescriptor) -> list[str]:
    key = ", ".join(f"`{fd.column}`" for fd in desc.key_fields)
    rows = [(f"{desc.table}_pkey", "Primary key", "btree", key, "")]
    for fd in desc.fields:
        if fd.unique:
            rows.append((derived_name(desc.table, (fd.column,), "key"), "Unique constraint", "btree",
                         f"`{fd.column}`", ""))
        if fd.index:
            rows.append((derived_name(desc.table, (fd.column,), "idx"), "Index", fd.index, f"`{fd.column}`", ""))
    rows += [_model_index(index) for index in desc.indexes]
    return [f"| `{name}` | {kind} | {method} | {target} | {_cell(notes)} |"
            for name, kind, method, target, notes in rows]


def _model_index(index: Index) -> tuple[str, str, str, str, str]:
    keys = []
    for key in index.columns:
        assert not isinstance(key, str)  # descriptors hold normalised IndexColumn keys
        text = f"`{key.name}`" if key.name is not None else f"`({key.expression})`"
        text += " DESC" if key.order == "desc" else ""
        text += f" NULLS {key.nulls.upper()}" if key.nulls != "default" else ""
        text += f" `{key.opclass}`" if key.opclass else ""
        keys.append(text)
    notes = [f"WHERE `{index.where}`"] if index.where else []
    notes += ["INCLUDE " + ", ".join(f"`{c}`" for c in index.include)] if index.include else []
    notes += ["NULLS NOT DISTINCT"] if index.nulls_not_distinct else []
    return (str(index.name), "Unique index" if index.unique else "Index", index.method, ", ".join(keys),
            "; ".join(notes))


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, newlines flattened)."""
    return text.replace("|", "\\|").replace("\n", " ")
