"""Golden DDL of tenant isolation: the model option, the policy operations and their SQL (pure)."""

from uuid import UUID

import pytest

from djogi import Field, ForeignKey, Model, field
from djogi.errors import ModelDefinitionError
from djogi.migrate.policies import LivePolicy, live_tenant_key
from djogi.model import descriptor, registry_scope
from tests.migrate.helpers import plan, snap, steps
from tests.tenancy.helpers import keyed, plain, rekeyed

EXPR = "(tenant_id = (NULLIF(current_setting('djogi.tenant'::text, true), ''::text))::bigint)"
ON = 'ALTER TABLE "notes" ENABLE ROW LEVEL SECURITY;\nALTER TABLE "notes" FORCE ROW LEVEL SECURITY;'
OFF = 'ALTER TABLE "notes" NO FORCE ROW LEVEL SECURITY;\nALTER TABLE "notes" DISABLE ROW LEVEL SECURITY;'
POLICY = f'CREATE POLICY "tenant_isolation" ON "notes" USING {EXPR} WITH CHECK {EXPR};'
DROP = 'DROP POLICY "tenant_isolation" ON "notes";'


def test_the_option_is_on_the_descriptor_and_in_the_snapshot() -> None:
    with registry_scope(isolated=True):
        class Note(Model, table="notes", tenant_key="owner"):
            owner: Field[int] = field(column="owner_org")

        assert descriptor(Note).tenant_key == "owner"
    table = snap(keyed).models["notes"]
    assert (table.tenant_key, table.rls_enabled) == ("tenant_id", True)
    assert (snap(plain).models["notes"].tenant_key, snap(plain).models["notes"].rls_enabled) == (None, False)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        ("missing", "Note: tenant_key='org' names no field of the model; declare the tenant column as a field and "
                    "name it (fields: body)"),
        ("framework", "Note: tenant_key='id' names no field of the model"),
        ("optional", "Note.org: the tenant key cannot be optional"),
        ("json", "Note.org: a tenant key column has one of the types BIGINT, INTEGER, SMALLINT, UUID, TEXT (the "
                 "tenant setting is text cast to it), not JSONB"),
        ("varchar", "not VARCHAR(10)"),
        ("not_str", "Note: tenant_key must be a field name (a str), not int"),
    ],
)  # fmt: skip
def test_a_tenant_key_that_cannot_isolate_is_refused(declare: str, message: str) -> None:
    hints: dict[str, object] = {
        "missing": str, "framework": str, "optional": int | None, "json": dict[str, int], "varchar": str,
        "not_str": str,
    }  # fmt: skip
    key = {"framework": "id", "not_str": 3}.get(declare, "org")
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError) as caught:
        namespace: dict[str, object] = {"__annotations__": {"body": Field[str]}} if declare == "missing" else {
            "__annotations__": {"org": Field[hints[declare]]}}  # type: ignore[valid-type]
        if declare == "varchar":
            namespace["org"] = field(max_length=10)
        type("Note", (Model,), namespace, table="notes", tenant_key=key)
    assert message in str(caught.value)


def test_adding_the_option_enables_forces_and_creates_the_policy() -> None:
    p = plan(plain, keyed)
    assert [op.label for op in p.operations] == ["EnableTenancy notes.tenant_id"]
    assert p.classification == "additive"
    assert steps(p) == [("EnableTenancy notes.tenant_id", f"{ON}\n{POLICY}", f"{DROP}\n{OFF}", True)]


def test_a_new_table_gets_its_policy_after_the_table() -> None:
    labels = [op.label for op in plan(None, keyed).operations]
    assert labels == ["AddTable notes", "EnableTenancy notes.tenant_id"]


def test_removing_the_option_drops_the_policy_and_disables() -> None:
    p = plan(keyed, plain)
    assert p.classification == "reversible"
    assert steps(p) == [("DisableTenancy notes.tenant_id", f"{DROP}\n{OFF}", f"{ON}\n{POLICY}", True)]


def test_a_dropped_table_drops_its_policy_first_so_rollback_restores_it() -> None:
    assert [op.label for op in plan(keyed, None).operations] == ["DisableTenancy notes.tenant_id", "DropTable notes"]


def test_changing_the_key_recreates_the_policy_around_the_column_changes() -> None:
    text = "(org = NULLIF(current_setting('djogi.tenant'::text, true), ''::text))"
    new_policy = f'CREATE POLICY "tenant_isolation" ON "notes" USING {text} WITH CHECK {text};'
    assert steps(plan(keyed, rekeyed)) == [
        ("DropTenantPolicy notes.tenant_id", DROP, POLICY, True),
        ("AddColumn notes.org", "ALTER TABLE \"notes\" ADD COLUMN \"org\" TEXT DEFAULT 'x' NOT NULL;",
         'ALTER TABLE "notes" DROP COLUMN "org";', True),
        ("CreateTenantPolicy notes.org", new_policy, DROP, True),
    ]  # fmt: skip


def test_a_type_change_of_the_key_column_recreates_the_policy() -> None:
    def uuid_keyed() -> None:
        class Note(Model, table="notes", tenant_key="tenant_id"):
            tenant_id: Field[UUID]
            body: Field[str]

    labels = [op.label for op in plan(keyed, uuid_keyed).operations]
    assert labels == ["DropTenantPolicy notes.tenant_id", "AlterColumn notes.tenant_id ChangeType BIGINT -> UUID",
                      "CreateTenantPolicy notes.tenant_id"]  # fmt: skip


def test_a_renamed_key_column_keeps_its_policy() -> None:
    def renamed() -> None:
        class Note(Model, table="notes", tenant_key="org_id"):
            org_id: Field[int] = field(renamed_from="tenant_id")
            body: Field[str]

    assert [op.label for op in plan(keyed, renamed).operations] == ["RenameColumn notes.tenant_id -> org_id"]


def test_a_foreign_key_can_be_the_tenant_key() -> None:
    def declare() -> None:
        class Org(Model, table="orgs"):
            name: Field[str]

        class Note(Model, table="notes", tenant_key="org"):
            org: ForeignKey[Org]

    assert snap(declare).models["notes"].tenant_key == "org_id"


def _policy(**change: object) -> LivePolicy:
    fields: dict[str, object] = {"name": "tenant_isolation", "command": "*", "permissive": True, "roles": (0,),
                                 "using": EXPR, "check": EXPR}  # fmt: skip
    fields.update(change)
    return LivePolicy(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("enabled", "forced", "policies", "expected"),
    [
        (True, True, [_policy()], "tenant_id"),
        (True, False, [_policy()], None),
        (False, True, [_policy()], None),
        (True, True, [], None),
        (True, True, [_policy(), _policy(name="other")], None),
        (True, True, [_policy(check=None)], None),
        (True, True, [_policy(using=EXPR.replace("bigint", "integer"))], None),
        (True, True, [_policy(command="r")], None),
        (True, True, [_policy(permissive=False)], None),
        (True, True, [_policy(roles=(10,))], None),
        (True, True, [_policy(name="renamed")], None),
    ],
)
def test_only_the_exact_policy_is_read_back_as_a_tenant_key(
    enabled: bool, forced: bool, policies: list[LivePolicy], expected: str | None
) -> None:
    columns = [("id", "BIGINT"), ("tenant_id", "BIGINT"), ("body", "TEXT")]
    assert live_tenant_key(columns, enabled, forced, policies) == expected
