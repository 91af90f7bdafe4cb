"""Golden operations and SQL for each differ operation (pure: no database)."""

import datetime as dt
from typing import Annotated

import pytest

import djogi
from djogi import ForeignKey, Index, IndexColumn, Model, OneToOne, Serial, field
from djogi.migrate.diff import diff
from tests.migrate.helpers import plan, snap, steps

PK = '    "id" BIGINT DEFAULT heerid_next_desc() NOT NULL,\n'
TS = '    "created_at" TIMESTAMPTZ DEFAULT now() NOT NULL,\n    "updated_at" TIMESTAMPTZ DEFAULT now() NOT NULL,\n'


def a_v1() -> None:
    class A(Model, table="a"):
        name: str
        n: int | None = None


def test_add_table_with_everything_on_a_new_table() -> None:
    class Tone(djogi.Enum):
        LOW = "low"

    def new() -> None:
        class A(Model, table="a", comment="the a", indexes=(Index(columns=("-n", "name"), where="n > 0"),)):
            name: Annotated[str, field(max_length=20, unique=True, index="gin", comment="c")]
            n: Annotated[int, field(check="n > 0")] = 1
            tone: Tone = Tone.LOW

        class B(Model, table="b"):
            a: Annotated[ForeignKey["A"], field(on_delete="cascade")]

    p = plan(None, new)
    assert p.classification == "additive"
    assert [op.label for op in p.operations] == [
        "AddEnum tone", "AddTable a", "AddTable b", "SetTableComment a", "AlterColumn a.name SetComment",
        "AddCheck a.n", "AddForeignKey b.a_id -> a.id", "AddIndex a_n_name_idx", "AddIndex a_name_idx",
        "AddIndex a_name_key", "AddIndex b_a_id_idx",
    ]  # fmt: skip
    got = {label: (up, down, tx) for label, up, down, tx in steps(p)}
    assert got["AddEnum tone"] == ("CREATE TYPE \"tone\" AS ENUM ('low');", 'DROP TYPE "tone";', True)
    assert got["AddTable a"] == (
        f'CREATE TABLE "a" (\n{PK}{TS}    "name" VARCHAR(20) NOT NULL,\n    "n" BIGINT NOT NULL,\n'
        '    "tone" tone NOT NULL,\n    CONSTRAINT "a_pkey" PRIMARY KEY ("id")\n);', 'DROP TABLE "a";', True,
    )  # fmt: skip
    assert got["SetTableComment a"][:2] == ("COMMENT ON TABLE \"a\" IS 'the a';", 'COMMENT ON TABLE "a" IS NULL;')
    assert got["AddCheck a.n"][:2] == (
        'ALTER TABLE "a" ADD CONSTRAINT "a_n_check" CHECK (n > 0);\nCOMMENT ON CONSTRAINT "a_n_check" ON "a" IS '
        "'n > 0';", 'ALTER TABLE "a" DROP CONSTRAINT "a_n_check";',
    )  # fmt: skip
    assert got["AddForeignKey b.a_id -> a.id"][0] == (
        'ALTER TABLE "b" ADD CONSTRAINT "b_a_id_fkey" FOREIGN KEY ("a_id") REFERENCES "a" ("id") ON DELETE CASCADE;'
    )
    assert got["AddIndex a_n_name_idx"] == (
        'CREATE INDEX "a_n_name_idx" ON "a" ("n" DESC, "name") WHERE n > 0;', 'DROP INDEX IF EXISTS "a_n_name_idx";',
        True,
    )  # fmt: skip
    assert got["AddIndex a_name_idx"][0] == 'CREATE INDEX "a_name_idx" ON "a" USING gin ("name");'
    assert got["AddIndex a_name_key"][:2] == (
        'ALTER TABLE "a" ADD CONSTRAINT "a_name_key" UNIQUE ("name");',
        'ALTER TABLE "a" DROP CONSTRAINT "a_name_key";',
    )
    # a foreign key is indexed by default (on a new table: not CONCURRENTLY, in the transaction)
    assert got["AddIndex b_a_id_idx"] == (
        'CREATE INDEX "b_a_id_idx" ON "b" ("a_id");', 'DROP INDEX IF EXISTS "b_a_id_idx";', True
    )


def test_foreign_key_index_opt_out_and_one_to_one() -> None:
    def new() -> None:
        class A(Model, table="a"):
            n: int = 0

        class B(Model, table="b"):
            a: Annotated[ForeignKey["A"], field(index=False)]
            own: Annotated[OneToOne["A"], field(related_name="owner")]
            hashed: Annotated[ForeignKey["A"], field(index="hash", related_name="hashed_by")]

    labels = [op.label for op in plan(None, new).operations if op.label.startswith("AddIndex")]
    # index=False: none; a one-to-one is indexed by its unique constraint; an explicit method is kept
    assert labels == ["AddIndex b_hashed_id_idx", "AddIndex b_own_id_key"]


def test_drop_table_recreates_structure_on_down_and_is_destructive() -> None:
    def old() -> None:
        class A(Model, table="a"):
            name: Annotated[str, field(index=True)]

        class B(Model, table="b"):
            a: ForeignKey["A"]

    def new() -> None:
        class A(Model, table="a"):
            name: Annotated[str, field(index=True)]

    p = plan(old, new)
    assert p.classification == "destructive" and p.needs_allow_destructive
    assert [(op.label, op.safety) for op in p.operations] == [
        ("DropForeignKey b.a_id -> a.id", "OnlineSafe"),
        ("DropTable b", "FastLockDestructiveGuarded"),
    ]
    drop = p.operations[1].steps[0]
    assert drop.up == 'DROP TABLE "b";'
    assert drop.down.startswith('CREATE TABLE "b" (') and drop.lossy == "DropTable — b: rows are not restored"


def test_declared_renames_rename_derived_names_too() -> None:
    def old() -> None:
        class A(Model, table="a"):
            name: Annotated[str, field(index=True, unique=True, check="length(name) > 0")]

    def new() -> None:
        class B(Model, table="b", renamed_from="a"):
            title: Annotated[str, field(renamed_from="name", index=True, unique=True, check="length(name) > 0")]

    p = plan(old, new)
    assert p.classification == "reversible"
    assert [(label, up) for label, up, _, _ in steps(p)] == [
        ("RenameTable a -> b", 'ALTER TABLE "a" RENAME TO "b";'),
        ("RenameColumn b.name -> title", 'ALTER TABLE "b" RENAME COLUMN "name" TO "title";'),
        ("RenameConstraint b.a_name_check -> b_title_check",
         'ALTER TABLE "b" RENAME CONSTRAINT "a_name_check" TO "b_title_check";'),
        ("RenameConstraint b.a_pkey -> b_pkey", 'ALTER TABLE "b" RENAME CONSTRAINT "a_pkey" TO "b_pkey";'),
        ("RenameIndex a_name_idx -> b_title_idx", 'ALTER INDEX "a_name_idx" RENAME TO "b_title_idx";'),
        ("RenameConstraint b.a_name_key -> b_title_key",
         'ALTER TABLE "b" RENAME CONSTRAINT "a_name_key" TO "b_title_key";'),
    ]  # fmt: skip
    assert steps(p)[0][2] == 'ALTER TABLE "b" RENAME TO "a";'


def test_undeclared_rename_is_drop_and_add() -> None:
    def new() -> None:
        class A(Model, table="a"):
            title: str
            n: int | None = None

    p = plan(a_v1, new)
    assert [op.label for op in p.operations] == ["AddColumn a.title", "DropColumn a.name"]
    assert p.classification == "lossy"  # title is NOT NULL without a default


def test_add_columns_on_existing_table() -> None:
    def new() -> None:
        class A(Model, table="a"):
            name: str
            n: int | None = None
            opt: str | None = None
            d: Annotated[str, field(db_default="'x'")] = "x"
            u: Annotated[str | None, field(db_default="gen_random_uuid()::text")] = None

    p = plan(a_v1, new)
    assert p.classification == "additive"
    assert [(op.label, op.steps[0].up, op.safety) for op in p.operations] == [
        ("AddColumn a.opt", 'ALTER TABLE "a" ADD COLUMN "opt" TEXT;', "OnlineSafe"),
        ("AddColumn a.d", 'ALTER TABLE "a" ADD COLUMN "d" TEXT DEFAULT \'x\' NOT NULL;', "OnlineSafe"),
        ("AddColumn a.u", 'ALTER TABLE "a" ADD COLUMN "u" TEXT DEFAULT gen_random_uuid()::text;', "OnlineSafe"),
    ]
    assert p.operations[0].steps[0].down == 'ALTER TABLE "a" DROP COLUMN "opt";'


def test_required_column_is_lossy_and_expand_contract() -> None:
    def new() -> None:
        class A(Model, table="a"):
            name: str
            n: int | None = None
            req: str

    (op,) = plan(a_v1, new).operations
    assert (op.effect, op.safety) == ("lossy", "ExpandContract")


def test_drop_column() -> None:
    def new() -> None:
        class A(Model, table="a"):
            name: str

    (op,) = plan(a_v1, new).operations
    assert steps(plan(a_v1, new)) == [
        ("DropColumn a.n", 'ALTER TABLE "a" DROP COLUMN "n";', 'ALTER TABLE "a" ADD COLUMN "n" BIGINT;', True)
    ]
    assert op.effect == "destructive" and op.steps[0].lossy == "DropColumn — a.n: values are not restored"


def test_alter_column_type_default_nullability() -> None:
    def new() -> None:
        class A(Model, table="a"):
            name: Annotated[str | None, field(db_default="'anon'")] = None
            n: Annotated[int, field(sql_type="INTEGER")] = 0

    got = steps(plan(a_v1, new))
    assert got == [
        ("AlterColumn a.name SetDefault", "ALTER TABLE \"a\" ALTER COLUMN \"name\" SET DEFAULT 'anon';",
         'ALTER TABLE "a" ALTER COLUMN "name" DROP DEFAULT;', True),
        ("AlterColumn a.name SetNullable(true)", 'ALTER TABLE "a" ALTER COLUMN "name" DROP NOT NULL;',
         'ALTER TABLE "a" ALTER COLUMN "name" SET NOT NULL;', True),
        ("AlterColumn a.n ChangeType BIGINT -> INTEGER",
         'ALTER TABLE "a" ALTER COLUMN "n" TYPE INTEGER USING "n"::INTEGER;',
         'ALTER TABLE "a" ALTER COLUMN "n" TYPE BIGINT USING "n"::BIGINT;', True),
        ("AlterColumn a.n SetNullable(false)",
         'ALTER TABLE "a" ADD CONSTRAINT "a_n_not_null" CHECK ("n" IS NOT NULL) NOT VALID;',
         'ALTER TABLE "a" DROP CONSTRAINT IF EXISTS "a_n_not_null";', True),
        ("ValidateConstraint a_n_not_null", 'ALTER TABLE "a" VALIDATE CONSTRAINT "a_n_not_null";',
         "-- no reverse: validation has no reverse", False),
        ("AlterColumn a.n SetNotNull",
         'ALTER TABLE "a" ALTER COLUMN "n" SET NOT NULL;\nALTER TABLE "a" DROP CONSTRAINT "a_n_not_null";',
         'ALTER TABLE "a" ALTER COLUMN "n" DROP NOT NULL;', True),
    ]  # fmt: skip
    p = plan(a_v1, new)
    assert p.classification == "lossy"
    assert {op.label: op.safety for op in p.operations}[
        "AlterColumn a.n ChangeType BIGINT -> INTEGER"
    ] == "ExpandContract"


def test_widening_type_change_is_reversible_and_online() -> None:
    def old() -> None:
        class A(Model, table="a"):
            name: Annotated[str, field(max_length=10)]

    def new() -> None:
        class A(Model, table="a"):
            name: Annotated[str, field(max_length=20)]

    (op,) = plan(old, new).operations
    assert (op.effect, op.safety) == ("reversible", "OnlineSafe")
    assert op.steps[0].up == 'ALTER TABLE "a" ALTER COLUMN "name" TYPE VARCHAR(20) USING "name"::VARCHAR(20);'


def test_constraints_on_existing_table_use_not_valid_then_validate() -> None:
    def old() -> None:
        class P(Model, table="p"):
            name: str

        class A(Model, table="a"):
            n: int

    def new() -> None:
        class P(Model, table="p"):
            name: str

        class A(Model, table="a"):
            n: Annotated[int, field(check="n >= 0")]
            p: ForeignKey["P"] | None = None

    assert steps(plan(old, new)) == [
        ("AddCheck a.n",
         'ALTER TABLE "a" ADD CONSTRAINT "a_n_check" CHECK (n >= 0) NOT VALID;\n'
         "COMMENT ON CONSTRAINT \"a_n_check\" ON \"a\" IS 'n >= 0';",
         'ALTER TABLE "a" DROP CONSTRAINT "a_n_check";', True),
        ("ValidateConstraint a_n_check", 'ALTER TABLE "a" VALIDATE CONSTRAINT "a_n_check";',
         "-- no reverse: validation has no reverse", False),
        ("AddColumn a.p_id", 'ALTER TABLE "a" ADD COLUMN "p_id" BIGINT;', 'ALTER TABLE "a" DROP COLUMN "p_id";', True),
        ("AddForeignKey a.p_id -> p.id",
         'ALTER TABLE "a" ADD CONSTRAINT "a_p_id_fkey" FOREIGN KEY ("p_id") REFERENCES "p" ("id") ON DELETE RESTRICT '
         "NOT VALID;", 'ALTER TABLE "a" DROP CONSTRAINT "a_p_id_fkey";', True),
        ("ValidateConstraint a_p_id_fkey", 'ALTER TABLE "a" VALIDATE CONSTRAINT "a_p_id_fkey";',
         "-- no reverse: validation has no reverse", False),
        ("AddIndex a_p_id_idx", 'CREATE INDEX CONCURRENTLY "a_p_id_idx" ON "a" ("p_id");',
         'DROP INDEX IF EXISTS "a_p_id_idx";', False),
    ]  # fmt: skip
    assert steps(plan(new, old))[0][:2] == ("DropCheck a.n", 'ALTER TABLE "a" DROP CONSTRAINT "a_n_check";')


def test_indexes_on_existing_table_are_concurrent() -> None:
    def new() -> None:
        class A(Model, table="a", indexes=(Index(columns=(IndexColumn(name="name", nulls="last"),), include=("n",),
                                                 name="a_cover"),)):  # fmt: skip
            name: Annotated[str, field(unique=True)]
            n: int | None = None

    p = plan(a_v1, new)
    assert steps(p) == [
        ("AddIndex a_cover", 'CREATE INDEX CONCURRENTLY "a_cover" ON "a" ("name" NULLS LAST) INCLUDE ("n");',
         'DROP INDEX IF EXISTS "a_cover";', False),
        ("AddIndex a_name_key", 'CREATE UNIQUE INDEX CONCURRENTLY "a_name_key" ON "a" ("name");',
         "-- no reverse: dropped with the constraint", False),
        ("AttachConstraint a_name_key", 'ALTER TABLE "a" ADD CONSTRAINT "a_name_key" UNIQUE USING INDEX "a_name_key";',
         'ALTER TABLE "a" DROP CONSTRAINT "a_name_key";', True),
    ]  # fmt: skip
    back = plan(new, a_v1)
    assert back.classification == "destructive"
    assert steps(back) == [
        ("DropIndex a_cover", 'DROP INDEX CONCURRENTLY IF EXISTS "a_cover";',
         'CREATE INDEX "a_cover" ON "a" ("name" NULLS LAST) INCLUDE ("n");', False),
        ("DropIndex a_name_key", 'ALTER TABLE "a" DROP CONSTRAINT "a_name_key";',
         'ALTER TABLE "a" ADD CONSTRAINT "a_name_key" UNIQUE ("name");', True),
    ]  # fmt: skip


def test_changed_index_is_dropped_then_rebuilt() -> None:
    def old() -> None:
        class A(Model, table="a", indexes=(Index(columns=("name",), name="a_i"),)):
            name: str

    def new() -> None:
        class A(Model, table="a", indexes=(Index(columns=("-name",), name="a_i"),)):
            name: str

    assert [(label, up) for label, up, _, _ in steps(plan(old, new))] == [
        ("DropIndex a_i", 'DROP INDEX CONCURRENTLY IF EXISTS "a_i";'),
        ("AddIndex a_i", 'CREATE INDEX CONCURRENTLY "a_i" ON "a" ("name" DESC);'),
    ]


def test_enums_create_append_rename_and_refuse_drop() -> None:
    class E1(djogi.Enum):
        __pg_name__ = "e"
        A = "a"
        B = "b"

    class E2(djogi.Enum):
        __pg_name__ = "e"
        __renamed_values__ = {"bee": "b"}
        Z = "z"
        A = "a"
        BEE = "bee"
        C = "c"

    class E3(djogi.Enum):
        __pg_name__ = "e"
        A = "a"

    def with_enum(e: type[djogi.Enum]) -> object:
        def declare() -> None:
            class A(Model, table="a"):
                v: e  # type: ignore[valid-type]

        return declare

    p = plan(with_enum(E1), with_enum(E2))
    assert p.classification == "reversible"
    assert steps(p) == [
        ("RenameEnumVariant e.b -> bee", "ALTER TYPE \"e\" RENAME VALUE 'b' TO 'bee';",
         "ALTER TYPE \"e\" RENAME VALUE 'bee' TO 'b';", True),
        ("AddEnumVariant e.z", "ALTER TYPE \"e\" ADD VALUE IF NOT EXISTS 'z' BEFORE 'a';",
         "-- no reverse: PostgreSQL cannot drop an enum value", False),
        ("AddEnumVariant e.c", "ALTER TYPE \"e\" ADD VALUE IF NOT EXISTS 'c' AFTER 'bee';",
         "-- no reverse: PostgreSQL cannot drop an enum value", False),
    ]  # fmt: skip
    refused = diff(snap(with_enum(E1)), snap(with_enum(E3)))
    assert "cannot drop enum values ['b']" in refused.failure()
    dropped = plan(with_enum(E1), None)
    assert [op.label for op in dropped.operations] == ["DropTable a", "DropEnum e"]


def test_extension_from_opclass() -> None:
    def new() -> None:
        class A(Model, table="a", indexes=(Index(columns=(IndexColumn(name="name", opclass="gin_trgm_ops"),),
                                                 method="gin"),)):  # fmt: skip
            name: str
            n: int | None = None

    p = plan(a_v1, new)
    assert [(label, up) for label, up, _, _ in steps(p)] == [
        ("AddExtension pg_trgm", 'CREATE EXTENSION IF NOT EXISTS "pg_trgm";'),
        ("AddIndex a_name_idx", 'CREATE INDEX CONCURRENTLY "a_name_idx" ON "a" USING gin ("name" gin_trgm_ops);'),
    ]


def test_primary_key_change_is_refused() -> None:
    def new() -> None:
        class A(Model, table="a", pk=Serial):
            name: str
            n: int | None = None

    assert "primary key" in diff(snap(a_v1), snap(new)).failure()


def test_comments_and_no_op() -> None:
    def new() -> None:
        class A(Model, table="a", comment="t"):
            name: Annotated[str, field(comment="it's")]
            n: int | None = None

    assert [(label, up, down) for label, up, down, _ in steps(plan(a_v1, new))] == [
        ("SetTableComment a", "COMMENT ON TABLE \"a\" IS 't';", 'COMMENT ON TABLE "a" IS NULL;'),
        ("AlterColumn a.name SetComment", "COMMENT ON COLUMN \"a\".\"name\" IS 'it''s';",
         'COMMENT ON COLUMN "a"."name" IS NULL;'),
    ]  # fmt: skip
    assert plan(new, new).operations == () and plan(new, new).classification == "no_op"


@pytest.mark.parametrize("when", [dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)])
def test_phase_order_drops_after_adds(when: dt.datetime) -> None:
    def old() -> None:
        class A(Model, table="a"):
            name: Annotated[str, field(index=True)]
            gone: int | None = None

    def new() -> None:
        class A(Model, table="a"):
            name: str
            fresh: Annotated[int | None, field(index=True)] = None

    assert [op.phase for op in plan(old, new).operations] == sorted(op.phase for op in plan(old, new).operations)
    assert [op.label for op in plan(old, new).operations] == [
        "AddColumn a.fresh",
        "AddIndex a_fresh_idx",
        "DropIndex a_name_idx",
        "DropColumn a.gone",
    ]


def test_check_naming_a_renamed_column_is_dropped_before_the_rename() -> None:
    """Regression (found by the convergence property): rollback must re-add the old check after renaming back."""

    def old() -> None:
        class A(Model, table="a"):
            n: Annotated[int, field(check="n >= 0")]

    def new() -> None:
        class A(Model, table="a"):
            m: Annotated[int, field(renamed_from="n", check="m >= 0")]

    assert [(label, down) for label, _, down, _ in steps(plan(old, new))][:2] == [
        ("DropCheck a.n", 'ALTER TABLE "a" ADD CONSTRAINT "a_n_check" CHECK (n >= 0);\n'
         "COMMENT ON CONSTRAINT \"a_n_check\" ON \"a\" IS 'n >= 0';"),
        ("RenameColumn a.n -> m", 'ALTER TABLE "a" RENAME COLUMN "m" TO "n";'),
    ]  # fmt: skip
