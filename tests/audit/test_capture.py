"""What the capture trigger records, through djogi and behind its back; history() and as_of()."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from djogi import AuthContext
from djogi.audit import AuditEntry, as_of, history
from djogi.errors import TenantRequired, ValidationError
from djogi.executor import Database
from tests.audit.helpers import Account, Ledger, Pair, Plain, migrate

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(db_url: str, app_db: Database, tmp_path: Path) -> Database:
    migrate(db_url, tmp_path)
    return app_db


def _shape(entries: list[AuditEntry]) -> list[tuple[object, ...]]:
    return [(e.action, e.actor, e.tenant, {k: v for k, v in e.diff.items() if k not in ("created_at", "updated_at")})
            for e in entries]  # fmt: skip


async def test_every_write_records_who_when_the_transaction_the_action_and_the_diff(app: Database) -> None:
    me = app.with_auth(AuthContext(user_id=7))
    account = await me.create(Account(email="a@x", password="hash1"))
    async with me.atomic():
        account = await me.save(account, balance=5)
        txid = (await me.raw("SELECT pg_current_xact_id()::text::bigint"))[0][0]
        now = (await me.raw("SELECT now()"))[0][0]
    await app.with_auth(AuthContext(user_id="svc")).delete(account)
    entries = await history(app, Account, account.id)
    assert _shape(entries) == [
        ("insert", "7", None, {"id": [None, account.id], "email": [None, "a@x"], "balance": [None, 0]}),
        ("update", "7", None, {"balance": [0, 5]}),
        ("delete", "svc", None, {"id": [account.id, None], "email": ["a@x", None], "balance": [5, None]}),
    ]
    assert (entries[1].txid, entries[1].at) == (txid, now)
    assert [e.id for e in entries] == sorted(e.id for e in entries) and entries[0].txid < entries[2].txid
    assert entries[1].before is not None and entries[1].after is not None
    assert (entries[1].before["balance"], entries[1].after["balance"], entries[1].row_key) == (0, 5, str(account.id))
    assert entries[0].before is None and entries[2].after is None


async def test_excluded_fields_are_never_recorded_and_changing_only_them_records_nothing(app: Database) -> None:
    account = await app.create(Account(email="a@x", password="hash1"))
    await app.raw("UPDATE aud_accounts SET password = 'hash2'")
    await app.raw("UPDATE aud_accounts SET email = email")
    entries = await history(app, Account, account.id)
    assert [e.action for e in entries] == ["insert"]
    raw = await app.raw("SELECT count(*) FROM djogi_audit WHERE before::text LIKE '%hash%' OR after::text LIKE "
                        "'%hash%' OR diff::text LIKE '%hash%' OR diff ? 'password'")  # fmt: skip
    assert raw == [(0,)]


async def test_writes_that_bypass_djogi_are_recorded_too(db_url: str, app: Database) -> None:
    await app.raw("INSERT INTO aud_accounts (id, email, password, balance) VALUES (1, 'raw@x', 'h', 1), "
                  "(2, 'raw2@x', 'h', 2)")  # fmt: skip
    await app.raw("UPDATE aud_accounts SET balance = balance * 10")
    await app.raw("DELETE FROM aud_accounts WHERE id = 2")
    assert _shape(await history(app, Account, 1)) == [
        ("insert", None, None, {"id": [None, 1], "email": [None, "raw@x"], "balance": [None, 1]}),
        ("update", None, None, {"balance": [1, 10]}),
    ]
    assert [e.action for e in await history(app, Account, 2)] == ["insert", "update", "delete"]
    assert await history(app, Account, 3) == []


async def test_a_rolled_back_write_leaves_no_entry(app: Database) -> None:
    with pytest.raises(ZeroDivisionError):
        async with app.atomic():
            await app.create(Account(id=1, email="a@x", password="h"))
            raise ZeroDivisionError
    assert await app.raw("SELECT count(*) FROM djogi_audit") == [(0,)]


async def test_the_actor_follows_set_auth_inside_a_transaction(app: Database) -> None:
    async with app.atomic():
        app.set_auth(AuthContext(user_id=1))
        await app.create(Account(id=1, email="a@x", password="h"))
        app.set_auth(AuthContext(user_id=2))
        await app.raw("UPDATE aud_accounts SET balance = 3")
        app.set_auth(None)
        await app.raw("UPDATE aud_accounts SET balance = 4")
    assert [e.actor for e in await history(app, Account, 1)] == ["1", "2", None]


async def test_audit_rows_obey_tenancy(app: Database) -> None:
    one, two = app.with_auth(AuthContext(user_id=5, tenant_id=1)), app.with_tenant(2)
    row = await one.create(Ledger(tenant_id=1, memo="one"))
    await two.create(Ledger(tenant_id=2, memo="two"))
    await app.create(Account(id=9, email="a@x", password="h"))
    assert _shape(await history(one, Ledger, row.id)) == [
        ("insert", "5", "1", {"id": [None, row.id], "memo": [None, "one"], "tenant_id": [None, 1]})
    ]
    assert await history(two, Ledger, row.id) == []
    assert await two.raw("SELECT tenant FROM djogi_audit ORDER BY id") == [("2",), (None,)]
    assert await app.raw("SELECT tenant FROM djogi_audit ORDER BY id") == [(None,)]
    assert len(await history(app.insecurely(), Ledger, row.id)) == 1
    with pytest.raises(TenantRequired, match="Ledger is tenant-keyed"):
        await history(app, Ledger, row.id)
    with pytest.raises(TenantRequired, match="Ledger is tenant-keyed"):
        await as_of(app, Ledger, row.id, dt.datetime.now(dt.UTC))


async def test_as_of_returns_the_row_as_it_was(app: Database) -> None:
    tenant = app.with_tenant(1)
    row = await tenant.create(Ledger(tenant_id=1, memo="first"))
    first = (await history(tenant, Ledger, row.id))[0].at
    second_row = await tenant.save(row, memo="second")
    second = (await history(tenant, Ledger, row.id))[1].at
    await tenant.delete(second_row)
    gone = (await history(tenant, Ledger, row.id))[2].at
    assert await as_of(tenant, Ledger, row.id, first - dt.timedelta(microseconds=1)) is None
    assert await as_of(tenant, Ledger, row.id, first) == row
    assert await as_of(tenant, Ledger, row.id, second) == second_row
    assert await as_of(tenant, Ledger, row.id, gone) is None


async def test_the_helpers_refuse_what_they_cannot_answer(app: Database) -> None:
    with pytest.raises(ValidationError, match="Plain keeps no audit trail: declare it with audit=True"):
        await history(app, Plain, 1)
    with pytest.raises(ValidationError, match=r"as_of\(Account\): the audit trail leaves out password"):
        await as_of(app, Account, 1, dt.datetime.now(dt.UTC))
    with pytest.raises(ValidationError, match="is naive; pass an aware datetime"):
        await as_of(app, Ledger, 1, dt.datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="a key value cannot be None"):
        await history(app, Ledger, None)


async def test_a_composite_key_names_its_row_by_a_json_array(app: Database) -> None:
    pair = await app.create(Pair(owner=1, label="a", weight=2))
    await app.create(Pair(owner=1, label="b", weight=2))
    await app.save(pair, weight=3)
    entries = await history(app, Pair, (1, "a"))
    assert [(e.row_key, e.action, e.diff.get("weight")) for e in entries] == [
        ('[1, "a"]', "insert", [None, 2]), ('[1, "a"]', "update", [2, 3])
    ]
    assert await as_of(app, Pair, (1, "a"), entries[0].at) == pair
    with pytest.raises(ValidationError, match=r"Pair has the composite key \(owner, label\): pass a tuple of 2"):
        await history(app, Pair, 1)
