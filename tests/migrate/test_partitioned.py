"""Declared partitioned tables: ``partition_by=`` / ``partitions=``, their DDL (golden), indexes built online
on an existing partitioned table (``ON ONLY``, ``CONCURRENTLY`` per partition, ``ATTACH``), and the whole
cycle against PostgreSQL: compose, apply, introspect equals the snapshot, verify, rollback."""

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from djogi import Field, ForeignKey, Index, Model, Partition, PartitionBy, Serial, field
from djogi.errors import ModelDefinitionError
from djogi.migrate import Bucket, apply, compose, introspect, rollback, verify
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.snapshot import PartitionBoundSchema, PartitionSchema
from djogi.model import descriptor, models, registry_scope
from tests.migrate.helpers import plan, snap, steps

MAIN = Bucket("main")
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)


def _events(*parts: Partition, indexes: tuple[Index, ...] = ()) -> Callable[[], None]:
    def declare() -> None:
        class Event(Model, table="events", partition_by=PartitionBy.hash("id"), partitions=parts, indexes=indexes):
            kind: Field[str]
            size: Field[int] = field(default=0)

    return declare


HASH2 = (Partition.hash("events_p0", 2, 0), Partition.hash("events_p1", 2, 1))
BY_KIND = (Index(columns=("kind",), name="events_kind_idx"),)


def test_the_declaration_keeps_the_key_columns_and_partitions() -> None:
    with registry_scope(isolated=True):

        class Reading(Model[Serial], table="readings", partition_by=PartitionBy.range("id"), partitions=(
            Partition.range("readings_low", None, 1000), Partition.range("readings_high", 1000, None),
            Partition.default("readings_rest"),
        )):  # fmt: skip
            value: Field[float]

        d = descriptor(Reading)
        assert d.partition_by == PartitionBy("range", ("id",))
        assert [p.bound for p in d.partitions] == [
            "FOR VALUES FROM (MINVALUE) TO (1000)", "FOR VALUES FROM (1000) TO (MAXVALUE)", "DEFAULT"]
    table = snap(_events(*HASH2)).models["events"]
    assert table.partition == PartitionSchema(key="HASH (id)", partitions=(
        PartitionBoundSchema(name="events_p0", bound="FOR VALUES WITH (modulus 2, remainder 0)"),
        PartitionBoundSchema(name="events_p1", bound="FOR VALUES WITH (modulus 2, remainder 1)"),
    ))  # fmt: skip


def test_list_bounds_are_written_as_postgresql_prints_them() -> None:
    assert Partition.list("p", 1, -3, "it's").bound == "FOR VALUES IN (1, -3, 'it''s')"
    assert Partition.range("p", (1, "a"), (2, None)).bound == "FOR VALUES FROM (1, 'a') TO (2, MAXVALUE)"


REFUSED = {
    "key not the primary key": (dict(partition_by=PartitionBy.hash("kind")), "must be part of the primary key"),
    "unknown key field": (dict(partition_by=PartitionBy.hash("nope")), "unknown: ['nope']"),
    "partitions alone": (dict(partitions=HASH2), "needs partition_by"),
    "wrong method": (dict(partition_by=PartitionBy.range("id"), partitions=HASH2),
                     "is a hash partition of a table partitioned by range"),
    "default of hash": (dict(partition_by=PartitionBy.hash("id"), partitions=(Partition.default("events_d"),)),
                        "is a default partition of a table partitioned by hash"),
    "twice": (dict(partition_by=PartitionBy.hash("id"), partitions=(HASH2[0], HASH2[0])), "declared twice"),
    "unique index without the key": (
        dict(partition_by=PartitionBy.hash("id"), indexes=(Index(columns=("kind",), unique=True),)),
        "must contain the partition key",
    ),
    "bad partition name": (dict(partition_by=PartitionBy.hash("id"), partitions=(Partition.hash("a b", 2, 0),)),
                           "partition name 'a b'"),
    "range width": (dict(partition_by=PartitionBy.range("id"), partitions=(Partition.range("r", (1, 2), (3, 4)),)),
                    "bounds 2 value(s) per side; the key has 1"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_declarations_postgresql_would_refuse_are_refused(case: str) -> None:
    options, message = REFUSED[case]
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=re.escape(message)):

        class Event(Model, table="events", **options):  # type: ignore[misc]
            kind: Field[str]


def test_unique_fields_are_refused_on_a_partitioned_table() -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=r"Event.kind: unique=True"):

        class Event(Model, table="events", partition_by=PartitionBy.hash("id")):
            kind: Field[str] = field(unique=True)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ModelDefinitionError, match="0 <= remainder < modulus"):
        Partition.hash("p", 2, 2)
    with pytest.raises(ModelDefinitionError, match="start has 2 value"):
        Partition.range("p", (1, 2), 3)
    with pytest.raises(ModelDefinitionError, match="at least one value"):
        Partition.list("p")
    with pytest.raises(ModelDefinitionError, match="not True"):
        Partition.list("p", True)


def test_a_new_partitioned_table_golden() -> None:
    got = steps(plan(None, _events(*HASH2, indexes=BY_KIND)))
    assert got == [
        ("AddTable events",
         'CREATE TABLE "events" (\n'
         '    "id" BIGINT DEFAULT heerid_next_desc() NOT NULL,\n'
         '    "created_at" TIMESTAMPTZ DEFAULT now() NOT NULL,\n'
         '    "updated_at" TIMESTAMPTZ DEFAULT now() NOT NULL,\n'
         '    "kind" TEXT NOT NULL,\n'
         '    "size" BIGINT NOT NULL,\n'
         '    CONSTRAINT "events_pkey" PRIMARY KEY ("id")\n'
         ') PARTITION BY HASH (id);',
         'DROP TABLE "events";', True),
        ("AddPartition events.events_p0",
         'CREATE TABLE "events_p0" PARTITION OF "events" FOR VALUES WITH (modulus 2, remainder 0);',
         'DROP TABLE IF EXISTS "events_p0";', True),
        ("AddPartition events.events_p1",
         'CREATE TABLE "events_p1" PARTITION OF "events" FOR VALUES WITH (modulus 2, remainder 1);',
         'DROP TABLE IF EXISTS "events_p1";', True),
        ("AddIndex events_kind_idx", 'CREATE INDEX "events_kind_idx" ON "events" ("kind");',
         'DROP INDEX IF EXISTS "events_kind_idx";', True),
    ]  # fmt: skip


def test_an_index_on_an_existing_partitioned_table_is_built_online_golden() -> None:
    got = steps(plan(_events(*HASH2), _events(*HASH2, indexes=BY_KIND)))
    assert got == [
        ("AddIndex events_kind_idx", 'CREATE INDEX "events_kind_idx" ON ONLY "events" ("kind");',
         'DROP INDEX IF EXISTS "events_kind_idx";', True),
        ("AddIndex events_p0_events_kind_idx",
         'CREATE INDEX CONCURRENTLY "events_p0_events_kind_idx" ON "events_p0" ("kind");',
         "-- no reverse: dropped with events_kind_idx", False),
        ("AttachIndex events_p0_events_kind_idx",
         'ALTER INDEX "events_kind_idx" ATTACH PARTITION "events_p0_events_kind_idx";',
         "-- no reverse: dropped with events_kind_idx", True),
        ("AddIndex events_p1_events_kind_idx",
         'CREATE INDEX CONCURRENTLY "events_p1_events_kind_idx" ON "events_p1" ("kind");',
         "-- no reverse: dropped with events_kind_idx", False),
        ("AttachIndex events_p1_events_kind_idx",
         'ALTER INDEX "events_kind_idx" ATTACH PARTITION "events_p1_events_kind_idx";',
         "-- no reverse: dropped with events_kind_idx", True),
    ]  # fmt: skip
    dropped = steps(plan(_events(*HASH2, indexes=BY_KIND), _events(*HASH2)))
    assert dropped == [("DropIndex events_kind_idx", 'DROP INDEX IF EXISTS "events_kind_idx";',
                        'CREATE INDEX "events_kind_idx" ON "events" ("kind");', True)]  # fmt: skip


def test_partitions_added_dropped_and_rebounded_golden() -> None:
    four = (Partition.hash("events_p0", 2, 0), Partition.hash("events_q1", 4, 1), Partition.hash("events_q3", 4, 3))
    p = plan(_events(*HASH2), _events(*four))
    # events_q1 overlaps events_p1 (remainder 1 of 2 holds remainders 1 and 3 of 4): added after the drop
    assert steps(p) == [
        ("DropPartition events.events_p1",
         'ALTER TABLE "events" DETACH PARTITION "events_p1";\nDROP TABLE "events_p1";',
         'CREATE TABLE "events_p1" PARTITION OF "events" FOR VALUES WITH (modulus 2, remainder 1);', True),
        ("AddPartition events.events_q1",
         'CREATE TABLE "events_q1" PARTITION OF "events" FOR VALUES WITH (modulus 4, remainder 1);',
         'ALTER TABLE "events" DETACH PARTITION "events_q1";\nDROP TABLE "events_q1";', True),
        ("AddPartition events.events_q3",
         'CREATE TABLE "events_q3" PARTITION OF "events" FOR VALUES WITH (modulus 4, remainder 3);',
         'ALTER TABLE "events" DETACH PARTITION "events_q3";\nDROP TABLE "events_q3";', True),
    ]  # fmt: skip
    assert p.classification == "destructive"
    only_added = steps(plan(_events(HASH2[0]), _events(*HASH2, indexes=BY_KIND)))
    assert [label for label, *_ in only_added] == [  # added before the index, which is built on it too
        "AddPartition events.events_p1", "AddIndex events_kind_idx", "AddIndex events_p0_events_kind_idx",
        "AttachIndex events_p0_events_kind_idx", "AddIndex events_p1_events_kind_idx",
        "AttachIndex events_p1_events_kind_idx"]
    late = steps(plan(_events(*HASH2), _events(*four, indexes=BY_KIND)))
    assert [label for label, *_ in late] == [  # built on the partitions there are; the late ones clone it
        "AddIndex events_kind_idx", "AddIndex events_p0_events_kind_idx", "AttachIndex events_p0_events_kind_idx",
        "AddIndex events_p1_events_kind_idx", "AttachIndex events_p1_events_kind_idx",
        "DropPartition events.events_p1", "AddPartition events.events_q1", "AddPartition events.events_q3"]


def test_a_foreign_key_to_a_partitioned_table_is_read_once(db_url: str, tmp_path: Path) -> None:
    """Found by the convergence property: PostgreSQL clones such a key once per partition (constraints
    with ``conparentid``), and introspection took a clone for the key itself."""

    def declare() -> None:
        class Event(Model, table="events", partition_by=PartitionBy.hash("id"), partitions=HASH2):
            kind: Field[str]

        class Ticket(Model, table="tickets"):
            event: ForeignKey[Event]

    declared = _compose(tmp_path, declare, T1)
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN, models=declared).diagnostics == ()  # type: ignore[arg-type]


def _events_and_tickets(*parts: Partition) -> Callable[[], None]:
    def declare() -> None:
        class Event(Model, table="events", partition_by=PartitionBy.hash("id"), partitions=parts):
            kind: Field[str]

        class Ticket(Model, table="tickets"):
            event: ForeignKey[Event]

    return declare


def test_a_partition_of_a_table_foreign_keys_reference_is_dropped(db_url: str, tmp_path: Path) -> None:
    """Found by the convergence property: a bare ``DROP TABLE`` of such a partition fails (the key's clone
    on it depends on it); it is detached first, which PostgreSQL refuses while a ticket points into it."""
    _compose(tmp_path, _events_and_tickets(*HASH2), T1)
    apply(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO events (kind) SELECT 'k' FROM generate_series(1, 20)")
        conn.execute("INSERT INTO tickets (event_id) SELECT id FROM events_p1 LIMIT 1")
        kept = conn.execute("SELECT count(*) FROM events_p1").fetchone()
    declared = _compose(tmp_path, _events_and_tickets(HASH2[0]), T2)
    with pytest.raises(MigrationError, match="violates foreign key constraint"):
        apply(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM events_p1").fetchone() == kept != (0,)
        conn.execute("DELETE FROM tickets")
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN, models=declared).diagnostics == ()  # type: ignore[arg-type]
    _compose(tmp_path, _events_and_tickets(*HASH2), T3)  # added back; rolled back: detached and dropped again
    apply(db_url, tmp_path)
    assert rollback(db_url, tmp_path, MAIN, allow_data_loss=True, reason="test").ok
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('events_p1') IS NULL").fetchone() == (True,)


def test_repartitioning_applies(db_url: str, tmp_path: Path) -> None:
    four = (Partition.hash("events_p0", 2, 0), Partition.hash("events_q1", 4, 1), Partition.hash("events_q3", 4, 3))
    _compose(tmp_path, _events(*HASH2), T1)
    apply(db_url, tmp_path)
    declared = _compose(tmp_path, _events(*four, indexes=BY_KIND), T2)
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN, models=declared).diagnostics == ()  # type: ignore[arg-type]
    with psycopg.connect(db_url, autocommit=True) as conn:
        valid = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind_idx'::regclass")
        assert valid.fetchone() == (True,)
    assert rollback(db_url, tmp_path, MAIN, allow_data_loss=True, reason="test").ok


def test_changing_the_partition_key_is_refused() -> None:
    from djogi.migrate.diff import diff

    def ranged() -> None:
        class Event(Model, table="events", partition_by=PartitionBy.range("id")):
            kind: Field[str]
            size: Field[int] = field(default=0)

    refused = diff(snap(_events(*HASH2)), snap(ranged))
    assert "changing how a table is partitioned (HASH (id) -> RANGE (id))" in refused.failure()


def _compose(migrations: Path, declare: Callable[[], None], now: dt.datetime) -> tuple[object, ...]:
    with registry_scope(isolated=True):
        declare()
        compose(migrations, models(), now, allow_destructive=True).unwrap()
        return models()


def _ranged(*parts: Partition, indexes: tuple[Index, ...] = ()) -> Callable[[], None]:
    def declare() -> None:
        class Reading(Model, table="readings", partition_by=PartitionBy.range("id"), partitions=parts,
                      indexes=indexes):  # fmt: skip
            value: Field[float]
            note: Field[str | None] = field(default=None)

    return declare


def test_partitioned_tables_converge_against_postgresql(db_url: str, tmp_path: Path) -> None:
    low, high = Partition.range("readings_low", None, 0), Partition.range("readings_high", 0, None)
    by_note = (Index(columns=("note",), name="readings_note_idx", where="note IS NOT NULL"),)
    first = _compose(tmp_path, _ranged(low, high), T1)
    apply(db_url, tmp_path)
    report = verify(db_url, tmp_path, MAIN, models=first)  # type: ignore[arg-type]
    assert report.ok and report.models_compared and report.diagnostics == ()

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO readings (value) VALUES (1.5), (2.5)")
    second = _compose(tmp_path, _ranged(low, high, Partition.default("readings_rest"), indexes=by_note), T2)
    apply(db_url, tmp_path)  # the index is built ON ONLY, concurrently per partition, attached
    assert verify(db_url, tmp_path, MAIN, models=second).diagnostics == ()  # type: ignore[arg-type]
    with psycopg.connect(db_url, autocommit=True) as conn:
        valid = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'readings_note_idx'::regclass")
        assert valid.fetchone() == (True,)
        attached = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings_note_idx'::regclass")
        assert attached.fetchone() == (3,)  # readings_rest was created before the index: built and attached too
        live = introspect(conn)
    assert set(live.models) == {"readings"}

    _compose(tmp_path, _ranged(low, high), T3)  # drop the default partition and the index
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    report = rollback(db_url, tmp_path, MAIN, allow_data_loss=True, reason="test")
    assert report.ok, report.diagnostics
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (2,)


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    with registry_scope(isolated=True):
        yield


def test_inspect_writes_the_partitioning_back(pg_sync: psycopg.Connection[tuple[object, ...]]) -> None:
    """``db inspect`` of a partitioned table writes ``partition_by=`` / ``partitions=``; the models it writes
    project to the live schema."""
    import sys
    import types

    from djogi.migrate import model_source, project

    pg_sync.execute(
        "CREATE TABLE readings (id BIGINT DEFAULT heerid_next_desc() NOT NULL PRIMARY KEY,"
        " created_at TIMESTAMPTZ DEFAULT now() NOT NULL, updated_at TIMESTAMPTZ DEFAULT now() NOT NULL,"
        " value DOUBLE PRECISION NOT NULL) PARTITION BY LIST (id);"
        "CREATE TABLE readings_a PARTITION OF readings FOR VALUES IN (1, -2, 3000000000);"
        "CREATE TABLE readings_rest PARTITION OF readings DEFAULT;"
        "CREATE TABLE spans (id BIGINT DEFAULT heerid_next_desc() NOT NULL PRIMARY KEY,"
        " created_at TIMESTAMPTZ DEFAULT now() NOT NULL, updated_at TIMESTAMPTZ DEFAULT now() NOT NULL)"
        " PARTITION BY RANGE (id);"
        "CREATE TABLE spans_low PARTITION OF spans FOR VALUES FROM (MINVALUE) TO (-5);"
    )
    live = introspect(pg_sync).structure()
    source = model_source(live)
    assert "partition_by=PartitionBy.list(\"id\"),\n    partitions=(\n" in source
    assert 'Partition.list("readings_a", 1, -2, 3000000000),' in source
    assert 'Partition.range("spans_low", None, -5),' in source
    module = types.ModuleType("inspected_partitions")
    sys.modules[module.__name__] = module
    try:
        with registry_scope(isolated=True):
            exec(compile(source, "<inspected>", "exec"), module.__dict__)
            assert project(models(), "main", None).unwrap().structure() == live
    finally:
        del sys.modules[module.__name__]
