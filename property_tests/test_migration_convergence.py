"""Migration round trips: random model evolutions converge, and rolling back restores each step.

Columns draw their kind among text, sized integers, booleans, dates, an enum, foreign keys, ``CHAR(3)``,
naive ``TIMESTAMP``, a domain and a STORED generated column; a table may have a table CHECK and a composite
foreign key (two optional columns) to a table with a composite key. Tables draw their key (djogi's ``id``,
a custom key column filled by a sequence or an identity or by the application, or a composite key,
possibly holding a foreign key) and whether they have timestamps. A
table with djogi's ``id`` may be partitioned (hash or range on the key, ``LAYOUTS``) and re-partitioned
(a layout's sibling: partitions dropped and added), which also exercises the online index build on an
existing partitioned table (``ON ONLY``, ``CONCURRENTLY`` per partition, ``ATTACH``). A table with a
one-column key may get or lose an outbox (``outbox=True``: the companion table and capture triggers) and
columns excluded from its payloads. Views are drawn over the tables (``ViewDecl``): SQL views reading a
column of a table (cast to text) or another view, plain or materialized (with an index, unique or not);
they are added, dropped, switched between plain and materialized and follow their table's changes, so
migrations rebuild them around the table changes that would break them.

Each example starts from a fresh database. For every step the models are redeclared (inside
``registry_scope``), composed, applied, and the live catalog introspected: it must equal the committed
snapshot (a view's query compared as the server prints it). Then the steps are rolled back newest
first, and after each rollback the catalog must equal the previous step's snapshot, and ``verify`` must be
clean: the only findings are ``D619`` warnings for the rolled-back migrations still on disk. Before
rolling back, the models ``db inspect`` writes for the live schema must declare exactly that schema.
"""

import datetime as dt
import tempfile
import types
from collections.abc import Iterator
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from pathlib import Path
from typing import Annotated, Any, TypeAlias

import msgspec
import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import djogi
from djogi import Check, CompositeForeignKey, Domain, Field, ForeignKey, Index, Model, Partition, PartitionBy, field
from djogi.migrate import Bucket, apply, compose, introspect, rollback, verify
from djogi.migrate.introspect import server_spelled
from djogi.migrate.modelsource import model_source
from djogi.migrate.snapshot import EMPTY, Snapshot
from djogi.model import models, registry_scope
from djogi.testing import TestDatabases
from tests.migrate.helpers import declared_by

MAIN = Bucket("main")
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


class Mood(djogi.Enum):
    CALM = "calm"
    LOUD = "loud"


Year: TypeAlias = Annotated[
    int, Domain(name="yr", base="INTEGER", checks=(Check(name="yr_check", expression="VALUE > 1900"),))
]

# char: CHAR(3); stamp: a naive TIMESTAMP; year: the domain above; gen: a STORED generated column.
KINDS = ("str", "varchar", "int", "int4", "bool", "date", "mood", "fk", "char", "stamp", "year", "gen")
DEFAULTS = {"str": "'x'", "varchar": "'v'", "int": "0", "int4": "7", "bool": "true", "date": None, "mood": "'calm'",
            "char": "'ab'", "stamp": "'2020-01-01 00:00:00'", "year": "2000"}  # fmt: skip


@dataclass
class Col:
    name: str
    kind: str
    nullable: bool = True
    index: bool = False
    unique: bool = False
    default: str | None = None
    length: int = 10
    target: str = ""
    comment: str | None = None
    check: bool = False
    renamed_from: str | None = None
    collation: str | None = None
    excluded: bool = False


KEYS = ("id", "sequence", "identity", "always", "assigned", "composite")


# Partition layouts by name; each has a sibling it can evolve into (``SIBLING``). Partition names come
# from the table's name, so renaming a partitioned table also drops and re-adds its partitions.
LAYOUTS: dict[str, tuple[str, tuple[tuple[str, Any], ...]]] = {
    "hash2": ("hash", (("p0", (2, 0)), ("p1", (2, 1)))),
    "hash4": ("hash", (("p0", (2, 0)), ("q1", (4, 1)), ("q3", (4, 3)))),
    "range2": ("range", (("lo", (None, 0)), ("hi", (0, None)))),
    "range3": ("range", (("lo", (None, 0)), ("mid", (0, 10**15)), ("rest", None))),
}
SIBLING = {"hash2": "hash4", "hash4": "hash2", "range2": "range3", "range3": "range2"}


def partitioning(table: str, layout: str) -> dict[str, Any]:
    """The ``partition_by=`` / ``partitions=`` options of ``layout`` for ``table``."""
    method, parts = LAYOUTS[layout]
    declared = []
    for suffix, bound in parts:
        name = f"{table}_{suffix}"
        if bound is None:
            declared.append(Partition.default(name))
        elif method == "hash":
            declared.append(Partition.hash(name, *bound))
        else:
            declared.append(Partition.range(name, *bound))
    return {"partition_by": PartitionBy(method, ("id",)), "partitions": tuple(declared)}


@dataclass
class Table:
    uid: int
    name: str
    cols: list[Col] = dc_field(default_factory=list)
    comment: str | None = None
    renamed_from: str | None = None
    key: str = "id"
    timestamps: bool = True
    key_target: str = ""
    layout: str | None = None
    outbox: bool = False
    check: bool = False  # a table CHECK constraint
    pair_target: str = ""  # a model with a composite key (ka, kb) its two optional pair columns reference


@dataclass
class ViewDecl:
    uid: int
    name: str
    table: int  # the uid of the table it reads
    position: int  # the column of that table it reads (cast to text), a constant once there is no such column
    over: int | None = None  # the uid of a view it reads instead of the table
    materialized: bool = False
    unique: bool = False


def _view_query(v: ViewDecl, tables: list[Table], views: list[ViewDecl]) -> str:
    if v.over is not None:
        return f'SELECT c FROM "{next(o.name for o in views if o.uid == v.over)}"'
    t = next(t for t in tables if t.uid == v.table)
    if v.position < len(t.cols):  # the column's name: a foreign key's is its field's name + "_id"
        read = t.cols[v.position]
        column = f'"{read.name}_id"::text' if read.kind == "fk" else f'"{read.name}"::text'
    else:
        column = "'none'::text"
    return f'SELECT {column} AS c FROM "{t.name}"'


def declare_views(tables: list[Table], views: list[ViewDecl]) -> None:
    """Declare the view models of ``views`` (after the tables they read)."""
    for v in views:
        options: dict[str, Any] = {"table": v.name, "view": djogi.sql(_view_query(v, tables, views))}
        if v.materialized:
            options.update(materialized=True, indexes=(Index(columns=("c",), unique=v.unique, name=f"vi_{v.uid}"),))
        ns = {"__annotations__": {"c": Field[str | None]}, "c": field(default=None)}
        types.new_class(f"V{v.uid}", (Model,), options, lambda body, ns=ns: body.update(ns))


def evolve_views(data: st.DataObject, tables: list[Table], views: list[ViewDecl], fresh: Iterator[str],
                 uid: Iterator[int]) -> list[ViewDecl]:  # fmt: skip
    """The views kept once their tables changed (a view of a dropped table goes, and the views reading it),
    then maybe one random change."""
    kept: list[ViewDecl] = []
    for v in views:
        if any(t.uid == v.table for t in tables) and (v.over is None or any(o.uid == v.over for o in kept)):
            kept.append(replace(v))
    action = data.draw(st.sampled_from(["none", "none", "add", "drop", "switch"] if tables else ["none"]),
                       label="view action")  # fmt: skip
    if action == "add":
        t = data.draw(st.sampled_from(tables), label="view table")
        over = data.draw(st.sampled_from([None, *(v.uid for v in kept if v.table == t.uid)]), label="over")
        kept.append(ViewDecl(uid=next(uid), name=next(fresh), table=t.uid, position=data.draw(st.integers(0, 2)),
                             over=over, materialized=data.draw(st.booleans(), label="materialized")))  # fmt: skip
    read = {v.over for v in kept}
    if action == "drop" and any(v.uid not in read for v in kept):
        victim = data.draw(st.sampled_from([v for v in kept if v.uid not in read]), label="view dropped")
        kept.remove(victim)
    elif action == "switch" and kept:
        v = data.draw(st.sampled_from(kept), label="view switched")
        if v.materialized and data.draw(st.booleans(), label="unique"):
            v.unique = not v.unique
        else:
            v.materialized = not v.materialized
    event(f"{sum(v.materialized for v in kept)} materialized, {sum(not v.materialized for v in kept)} plain views")
    return kept


def _key_fields(t: Table) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(annotations, ``= field(...)`` values, model options) of ``t``'s declared key (none for djogi's ``id``)."""
    if t.key == "id":
        return {}, {}, {}
    if t.key == "composite":
        second: Any = Field[djogi.Integer] if not t.key_target else ForeignKey[t.key_target]
        return ({f"ka{t.uid}": Field[djogi.SmallInt], f"kb{t.uid}": second},
                {f"ka{t.uid}": field(column=f"a_{t.uid}"), f"kb{t.uid}": field(column=f"b_{t.uid}")},
                {"primary_key": (f"ka{t.uid}", f"kb{t.uid}")})  # fmt: skip
    fill = {"sequence": {"sequence": f"seq_{t.uid}"}, "identity": {"identity": "by default"},
            "always": {"identity": "always"}, "assigned": {}}[t.key]  # fmt: skip
    if t.key == "assigned":
        return {f"k{t.uid}": Field[djogi.Integer]}, {f"k{t.uid}": field(primary_key=True, column=f"key_{t.uid}")}, {}
    spec = field(primary_key=True, column=f"key_{t.uid}", default=msgspec.UNSET, **fill)  # type: ignore[arg-type]
    return {f"k{t.uid}": Field[djogi.Integer | msgspec.UnsetType]}, {f"k{t.uid}": spec}, {}


def _annotation(col: Col) -> Any:
    base: Any = {"str": str, "varchar": str, "int": int, "int4": int, "bool": bool, "date": dt.date,
                 "mood": Mood, "char": str, "stamp": djogi.NaiveDateTime, "year": Year,
                 "gen": int | msgspec.UnsetType}.get(col.kind)  # fmt: skip
    if col.kind == "fk":
        return ForeignKey[f"{col.target} | None"] if col.nullable else ForeignKey[col.target]
    return Field[base | None] if col.nullable else Field[base]


def _declared(col: Col) -> Any:
    """The column's ``= field(...)``: its options, and None as the default of an optional column."""
    default = {"default": msgspec.UNSET} if col.kind == "gen" else {"default": None} if col.nullable else {}
    sql_type = {"int4": "INTEGER", "char": "CHAR(3)"}.get(col.kind)
    return field(
        **default,
        index=col.index, unique=col.unique, db_default=col.default, comment=col.comment,
        renamed_from=col.renamed_from, max_length=col.length if col.kind == "varchar" else None,
        sql_type=sql_type, check=f"{col.name} >= 0" if col.check else None, collation=col.collation,
        generated="2 * 21" if col.kind == "gen" else None, outbox_exclude=col.excluded,
    )  # fmt: skip


def declare(tables: list[Table]) -> None:
    """Declare the models of ``tables`` (in creation order, so FK targets exist first)."""
    for t in tables:
        keys, key_values, key_options = _key_fields(t)
        pair = {f"pa{t.uid}": Field[djogi.SmallInt | None], f"pb{t.uid}": Field[djogi.Integer | None]}
        ns: dict[str, Any] = {"__annotations__": {**keys, **{c.name: _annotation(c) for c in t.cols},
                                                  **(pair if t.pair_target else {})}}  # fmt: skip
        ns.update(key_values)
        ns.update({c.name: _declared(c) for c in t.cols})
        ns.update({name: field(default=None) for name in (pair if t.pair_target else {})})
        options = {"table": t.name, "comment": t.comment, "renamed_from": t.renamed_from or None,
                   "timestamps": t.timestamps, "outbox": t.outbox, **key_options}  # fmt: skip
        if t.check:
            options["checks"] = (Check(name=f"tc_{t.uid}", expression="length(current_schema()) > 0"),)
        if t.pair_target:
            target = int(t.pair_target[1:])
            options["foreign_keys"] = (CompositeForeignKey(
                fields=(f"pa{t.uid}", f"pb{t.uid}"), target=t.pair_target, to_fields=(f"ka{target}", f"kb{target}"),
                on_delete="cascade"),)  # fmt: skip
        if t.layout is not None:
            options.update(partitioning(t.name, t.layout))
        types.new_class(f"M{t.uid}", (Model,), options, lambda body, ns=ns: body.update(ns))


def _targets(table: Table, tables: list[Table]) -> list[str]:
    """The models a new foreign key of ``table`` may reference: earlier ones with a single-column key."""
    return [f"M{t.uid}" for t in tables if t.uid < table.uid and t.key != "composite"]


def _cols(data: st.DataObject, table: Table, tables: list[Table], fresh: Iterator[str]) -> Col:
    targets = _targets(table, tables)
    kind = data.draw(st.sampled_from([k for k in KINDS if k != "fk" or targets]))
    col = Col(name=next(fresh), kind=kind, target=data.draw(st.sampled_from(targets)) if kind == "fk" else "")
    if kind not in ("fk", "date", "gen") and data.draw(st.booleans()):
        col.nullable, col.default = False, DEFAULTS[kind]
    return col


def evolve(data: st.DataObject, tables: list[Table], fresh: Iterator[str], uid: Iterator[int]) -> list[Table]:
    """One random model change (tables are copied, never mutated)."""
    tables = [replace(t, cols=[replace(c, renamed_from=None) for c in t.cols], renamed_from=None) for t in tables]
    referenced = {c.target for t in tables for c in t.cols if c.kind == "fk"} | {t.key_target for t in tables}
    referenced |= {t.pair_target for t in tables}
    choices = ["add_table"]
    if tables:
        choices += ["add_column", "drop_column", "rename_column", "rename_table", "toggle", "type", "comment",
                    "timestamps", "table_check", "pair_fk", "pair_fk"]  # fmt: skip
        if any(t.layout for t in tables):
            choices.append("repartition")
        if any(t.key != "composite" for t in tables):
            choices.append("outbox")
        if any(f"M{t.uid}" not in referenced for t in tables):
            choices.append("drop_table")
    action = data.draw(st.sampled_from(choices), label="action")
    if action == "add_table":
        t = Table(uid=next(uid), name=next(fresh), key=data.draw(st.sampled_from(KEYS), label="key"),
                  timestamps=data.draw(st.booleans(), label="timestamps"))  # fmt: skip
        if t.key == "id":  # a partitioned table's key holds its partition key
            t.layout = data.draw(st.sampled_from([None, None, "hash2", "range2"]), label="layout")
        if t.key == "composite" and _targets(t, tables) and data.draw(st.booleans(), label="key fk"):
            t.key_target = data.draw(st.sampled_from(_targets(t, tables)))
        t.cols = [_cols(data, t, tables, fresh) for _ in range(data.draw(st.integers(1, 3)))]
        return [*tables, t]
    if action == "drop_table":
        victim = data.draw(st.sampled_from([t for t in tables if f"M{t.uid}" not in referenced]))
        return [t for t in tables if t is not victim]
    if action == "outbox":
        t = data.draw(st.sampled_from([t for t in tables if t.key != "composite"]), label="table")
        t.outbox = not t.outbox
        for c in t.cols:
            c.excluded = c.excluded and t.outbox
        return tables
    if action == "repartition":
        t = data.draw(st.sampled_from([t for t in tables if t.layout]), label="table")
        t.layout = SIBLING[t.layout or ""]
        return tables
    t = data.draw(st.sampled_from(tables), label="table")
    if action == "add_column":
        t.cols.append(_cols(data, t, tables, fresh))
    elif action == "rename_table":
        t.renamed_from, t.name = t.name, next(fresh)
    elif action == "comment":
        t.comment = data.draw(st.sampled_from([None, "a table", "it's"]))
    elif action == "timestamps":
        t.timestamps = not t.timestamps
    elif action == "table_check":
        t.check = not t.check
    elif action == "pair_fk":  # a composite foreign key to a table with a composite (SMALLINT, INTEGER) key
        pairs = [f"M{o.uid}" for o in tables if o.key == "composite" and not o.key_target and o is not t]
        if not pairs and not t.pair_target:  # a table to reference, created in the same step
            keyed = Table(uid=next(uid), name=next(fresh), key="composite", timestamps=False)
            keyed.cols = [_cols(data, keyed, tables, fresh)]
            tables.append(keyed)
            pairs = [f"M{keyed.uid}"]
        t.pair_target = "" if t.pair_target else data.draw(st.sampled_from(pairs), label="pair")
        event("composite foreign key added" if t.pair_target else "composite foreign key dropped")
    elif t.cols:
        c = data.draw(st.sampled_from(t.cols), label="column")
        if action == "drop_column" and len(t.cols) > 1:
            t.cols.remove(c)
        elif action == "rename_column" and c.kind != "fk":
            c.renamed_from, c.name = c.name, next(fresh)
        elif action == "toggle":
            what = data.draw(st.sampled_from(["index", "unique", "nullable", "comment", "check", "collation",
                                              "excluded"]))  # fmt: skip
            if what == "index":
                c.index = not c.index
            elif what == "unique" and t.layout is None:  # a partitioned table's unique keys contain its key
                c.unique = not c.unique
            elif what == "nullable" and c.kind != "fk":
                c.nullable = not c.nullable
            elif what == "comment":
                c.comment = None if c.comment else "a column"
            elif what == "check" and c.kind in ("int", "int4", "gen"):
                c.check = not c.check
            elif what == "excluded" and t.outbox:
                c.excluded = not c.excluded
            elif what == "collation" and c.kind in ("str", "varchar"):
                c.collation = None if c.collation else data.draw(st.sampled_from(["C", "POSIX"]))
        elif action == "type":
            if c.kind in ("int", "int4"):
                c.kind = "int4" if c.kind == "int" else "int"
                c.default = DEFAULTS[c.kind] if c.default else None
            elif c.kind in ("str", "varchar"):  # the collation stays: ALTER ... TYPE VARCHAR(n) COLLATE "C"
                c.kind, c.length = "varchar", data.draw(st.sampled_from([5, 10, 40]))
                c.default = DEFAULTS["varchar"] if c.default else None
    return tables


def live(url: str) -> Snapshot:
    with psycopg.connect(url, autocommit=True) as conn:
        return introspect(conn).structure()


def spelled(url: str, expected: Snapshot) -> Snapshot:
    """``expected`` with each view's query as the server prints it (what the catalog reads back)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return server_spelled(conn, expected, introspect(conn)).structure()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_evolutions_converge_and_roll_back(djogi_databases: TestDatabases, data: st.DataObject) -> None:
    name = djogi_databases.create()
    url = djogi_databases.server.url(name)
    fresh = (f"n{i}" for i in range(1000))
    uid = iter(range(1000))
    history: list[Snapshot] = [EMPTY.structure()]
    tables: list[Table] = []
    views: list[ViewDecl] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            migrations = Path(tmp)
            for step in range(data.draw(st.integers(1, 6), label="steps")):
                tables = evolve(data, tables, fresh, uid)
                views = evolve_views(data, tables, views, fresh, uid)
                with registry_scope(isolated=True):
                    declare(tables)
                    declare_views(tables, views)
                    composed = compose(migrations, models(), T0 + dt.timedelta(seconds=step), allow_destructive=True)
                plan = composed.unwrap()
                if plan.empty:
                    continue
                apply(url, migrations)
                target = plan.buckets[0].snapshot.structure()
                assert live(url) == spelled(url, target)
                history.append(target)
            assert verify(url, migrations, MAIN).diagnostics == ()
            assert declared_by(model_source(live(url))) == live(url)
            undone: list[str] = []
            for previous in reversed(history[:-1]):
                report = rollback(url, migrations, MAIN, allow_data_loss=True, reason="round trip")
                assert report.ok and report.diagnostics == (), report.diagnostics
                undone += report.rolled_back
                assert live(url) == spelled(url, previous)
                checked = verify(url, migrations, MAIN)
                assert checked.ok and checked.head == report.head
                assert sorted((d.code, d.subject) for d in checked.diagnostics) == [("D619", v) for v in sorted(undone)]
    finally:
        djogi_databases.drop(name)


@pytest.fixture(scope="module", autouse=True)
def _no_leaking_models() -> Iterator[None]:
    with registry_scope(isolated=True):
        yield
