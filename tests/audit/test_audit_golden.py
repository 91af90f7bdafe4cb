"""Golden DDL of the audit trail: the model option, the trigger operations and their SQL (pure)."""

from pathlib import Path

import pytest

from djogi import Audit, Field, Model, field
from djogi.errors import ModelDefinitionError
from djogi.migrate.audit import audit_table_sql, live_audit
from djogi.migrate.modelsource import model_source
from djogi.migrate.project import project
from djogi.migrate.snapshot import AuditSchema, decode, encode
from djogi.model import descriptor, models, registry_scope
from tests.audit.helpers import audited, excluding, plain, renamed, tenanted
from tests.migrate.helpers import declared_by, plan, snap, steps

GOLDEN = Path(__file__).parent / "golden"
TRIGGER = ('CREATE TRIGGER "djogi_audit" AFTER INSERT OR UPDATE OR DELETE ON "notes" FOR EACH ROW EXECUTE FUNCTION '
           '"djogi_audit_capture"({});')  # fmt: skip
DROP = 'DROP TRIGGER "djogi_audit" ON "notes";'
BUFFER = """CREATE TABLE IF NOT EXISTS "djogi_audit" (
    "id" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "at" TIMESTAMPTZ NOT NULL,
    "txid" BIGINT NOT NULL,
    "table_name" TEXT NOT NULL,
    "row_key" TEXT NOT NULL,
    "action" TEXT NOT NULL CHECK ("action" IN ('insert', 'update', 'delete')),
    "actor" TEXT,
    "tenant" TEXT,
    "before" JSONB,
    "after" JSONB,
    "diff" JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS "djogi_audit_row" ON "djogi_audit" ("table_name", "row_key", "id");
ALTER TABLE "djogi_audit" ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS "tenant_isolation" ON "djogi_audit";
CREATE POLICY "tenant_isolation" ON "djogi_audit" USING ("tenant" IS NULL OR "tenant" = \
current_setting('djogi.tenant', true)) WITH CHECK ("tenant" IS NULL OR "tenant" = current_setting('djogi.tenant', \
true));"""


def _enable(args: str) -> str:
    return f"{BUFFER}\n{(GOLDEN / 'capture_function.sql').read_text().rstrip()}\n{TRIGGER.format(args)}"


def test_the_option_is_on_the_descriptor_and_in_the_snapshot() -> None:
    with registry_scope(isolated=True):
        class User(Model, table="users", audit=Audit(exclude=("token", "hash", "token"))):
            hash: Field[str] = field(column="pw_hash")
            token: Field[str]

        assert descriptor(User).audit == Audit(exclude=("hash", "token"))
    assert snap(plain).models["notes"].audit is None
    assert snap(audited).models["notes"].audit == AuditSchema()
    assert snap(excluding).models["notes"].audit == AuditSchema(exclude=("secret",))


def test_the_snapshot_file_names_audit_only_for_audited_tables() -> None:
    assert b'"audit"' not in encode(snap(plain))
    text = encode(snap(excluding))
    assert b'"audit": {\n        "exclude": [\n          "secret"\n        ]\n      },' in text
    assert decode(text).unwrap() == snap(excluding)
    assert b'"audit": {},' in encode(snap(audited))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "Note: audit must be True or djogi.Audit(exclude=(...)), not 'yes'"),
        (Audit(exclude=("nope",)), "Note: Audit(exclude=...) names 'nope', which is no field of the model (fields: "
                                   "id, created_at, updated_at, tenant_id, body)"),
        (Audit(exclude=("id",)), "Note.id: the primary key cannot be excluded from the audit trail"),
        (Audit(exclude=("tenant_id",)), "Note.tenant_id: the tenant key cannot be excluded from the audit trail"),
        (Audit(exclude="body"), "Note: Audit(exclude=...) takes a tuple of field names, not 'body'"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_an_audit_option_djogi_cannot_honour_is_refused(value: object, message: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError) as caught:
        namespace = {"__annotations__": {"tenant_id": Field[int], "body": Field[str]}}
        type("Note", (Model,), namespace, table="notes", tenant_key="tenant_id", audit=value)
    assert message in str(caught.value)


def test_audit_false_is_no_audit_trail() -> None:
    with registry_scope(isolated=True):
        class Note(Model, table="notes", audit=False):
            body: Field[str]

        assert descriptor(Note).audit is None


def test_the_log_table_keeps_the_buffer_ids_and_has_no_policy() -> None:
    assert audit_table_sql(buffer=True) == BUFFER
    log = audit_table_sql(buffer=False)
    assert log == BUFFER.split("\nALTER TABLE")[0].replace("GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "PRIMARY KEY")


def test_adding_the_option_creates_the_table_the_function_and_the_trigger() -> None:
    p = plan(plain, audited)
    assert p.classification == "additive"
    assert steps(p) == [("EnableAudit notes", _enable("'', '1', 'id'"), DROP, True)]


def test_a_new_table_gets_its_trigger_after_the_table() -> None:
    assert [op.label for op in plan(None, excluding).operations] == ["AddTable notes", "EnableAudit notes"]
    assert steps(plan(None, excluding))[1][1].endswith(TRIGGER.format("'', '1', 'id', 'secret'"))


def test_removing_the_option_drops_the_trigger_and_keeps_the_rows() -> None:
    p = plan(excluding, plain)
    assert p.classification == "reversible"
    assert steps(p) == [("DisableAudit notes", DROP, TRIGGER.format("'', '1', 'id', 'secret'"), True)]


def test_changing_what_is_recorded_recreates_the_trigger() -> None:
    assert steps(plan(audited, excluding)) == [
        ("DisableAudit notes", DROP, TRIGGER.format("'', '1', 'id'"), True),
        ("EnableAudit notes", _enable("'', '1', 'id', 'secret'"), DROP, True),
    ]
    labels = [op.label for op in plan(excluding, tenanted).operations]
    assert labels == ["DisableAudit notes", "EnableTenancy notes.tenant_id", "EnableAudit notes"]
    assert steps(plan(excluding, tenanted))[2][1].endswith(TRIGGER.format("'tenant_id', '1', 'id', 'secret'"))


def test_a_dropped_table_drops_its_trigger_first_so_rollback_restores_it() -> None:
    assert [op.label for op in plan(audited, None).operations] == ["DisableAudit notes", "DropTable notes"]


def test_renaming_a_column_the_trigger_names_recreates_it_around_the_rename() -> None:
    assert [(label, up) for label, up, _, _ in steps(plan(excluding, renamed))][:2] == [
        ("DisableAudit notes", DROP),
        ("RenameColumn notes.secret -> hidden", 'ALTER TABLE "notes" RENAME COLUMN "secret" TO "hidden";'),
    ]
    assert steps(plan(excluding, renamed))[2][1].endswith(TRIGGER.format("'', '1', 'id', 'hidden'"))
    assert len(plan(excluding, renamed).operations) == 3


def test_renaming_another_column_keeps_the_trigger() -> None:
    def moved() -> None:
        class Note(Model, table="notes", audit=Audit(exclude=("secret",))):
            tenant_id: Field[int]
            text: Field[str] = field(renamed_from="body")
            secret: Field[str] = field(default="")

    assert [op.label for op in plan(excluding, moved).operations] == ["RenameColumn notes.body -> text"]


@pytest.mark.parametrize(
    ("triggers", "expected"),
    [
        ([("djogi_audit", 29, "O", ["", "1", "id", "secret"])], AuditSchema(exclude=("secret",))),
        ([("djogi_audit", 29, "O", ["", "1", "id"])], AuditSchema()),
        ([("djogi_audit", 29, "D", ["", "1", "id"])], None),  # disabled
        ([("djogi_audit", 31, "O", ["", "1", "id"])], None),  # BEFORE
        ([("djogi_audit", 21, "O", ["", "1", "id"])], None),  # not on DELETE
        ([("other", 29, "O", ["", "1", "id"])], None),
        ([("djogi_audit", 29, "O", ["tenant_id", "1", "id"])], None),  # the table has no tenant key
        ([("djogi_audit", 29, "O", ["", "1", "body"])], None),  # not the key
        ([("djogi_audit", 29, "O", ["", "1", "id", "z", "a"])], None),  # not as a migration writes it
        ([], None),
    ],
)
def test_the_live_trigger_is_recognised_only_as_a_migration_creates_it(
    triggers: list[tuple[str, int, str, list[str]]], expected: AuditSchema | None
) -> None:
    assert live_audit(triggers, snap(plain).models["notes"]) == expected


def test_an_audited_table_is_written_by_inspect_with_its_option() -> None:
    with registry_scope(isolated=True):
        class Note(Model, table="notes", audit=Audit(exclude=("secret",)), timestamps=False):
            body: Field[str]
            secret: Field[str] = field(column="secret_text")

        class Plain(Model, table="plain", audit=True, timestamps=False):
            body: Field[str]

        written = project(models(), "main", None).unwrap()
    source = model_source(written)
    assert "\nfrom djogi import Audit\n" in source
    assert 'class Notes(Model, table="notes", timestamps=False, audit=Audit(exclude=("secret_text",))):' in source
    assert 'class Plain(Model, table="plain", timestamps=False, audit=True):' in source
    assert declared_by(source) == written.structure()
