"""``PasswordHash``: argon2id in PHC format, verified in constant time, never shown, stored exactly."""

from __future__ import annotations

import logging
import pickle

import pytest

from djogi import Model, PasswordHash, descriptor
from djogi.errors import ValidationError
from djogi.executor import Database

OLD = PasswordHash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$n2s0vQO5t8lTpQ2W7z1MHQ")  # weak parameters


class Account(Model, table="pw_accounts"):
    email: str
    password: PasswordHash
    previous: PasswordHash | None = None


def test_hash_verify_and_rehash() -> None:
    h = PasswordHash.hash("correct horse")
    assert h.phc.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and type(h.phc) is str
    assert h.verify("correct horse") and not h.verify("wrong horse")
    assert not h.needs_rehash and OLD.needs_rehash
    assert PasswordHash.hash("correct horse") != h  # a fresh salt each time
    assert PasswordHash(h.phc) == h and hash(PasswordHash(h.phc)) == hash(h)
    assert pickle.loads(pickle.dumps(h)) == h


def test_a_malformed_hash_verifies_nothing() -> None:
    assert not PasswordHash("$argon2id$v=19$broken").verify("x")


def test_the_hash_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    h = PasswordHash.hash("s3cret")
    assert repr(h) == str(h) == f"{h}" == f"{h:>40}" == "%s" % (h,) == "PasswordHash('***')"  # noqa: UP031
    account = Account(email="a@example.com", password=h)
    assert h.phc not in repr(account)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("x").info("saving %s %r", h, (h,))
    assert h.phc not in caplog.text


@pytest.mark.parametrize("text", ["hunter2", "", "$", "argon2id$v=19", "$argon2id$v=19 extra"])
def test_only_phc_text_makes_a_hash_and_the_error_does_not_quote_it(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PasswordHash(text)
    assert str(caught.value) == ("PasswordHash(...) takes a PHC string ($id$...$...); to hash a password, call "
                                 "PasswordHash.hash(password)")  # fmt: skip


def test_the_column_is_text() -> None:
    fd = descriptor(Account).field("password")
    assert (fd.value_kind, fd.sql_type, fd.nullable) == ("password", "TEXT", False)


DDL = ("CREATE TABLE pw_accounts (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL "
       "DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), email text NOT NULL, password text NOT NULL, "
       "previous text)")  # fmt: skip


@pytest.mark.anyio
async def test_stored_exactly_and_read_back_as_a_hash(db: Database) -> None:
    await db.raw(DDL)
    h = PasswordHash.hash("pw")
    made = await db.create(Account(email="a", password=h))
    [copied] = await db.bulk_create([Account(email="b", password=h, previous=OLD)])
    for row in (made, copied, await db.get(Account, made.id)):
        assert type(row.password) is PasswordHash and row.password == h and row.password.verify("pw")
    stored = await db.raw("SELECT password, previous FROM pw_accounts ORDER BY email")
    assert stored == [(h.phc, None), (h.phc, OLD.phc)]
    assert [a.email for a in await db.all(Account.objects.filter(Account.password == h))] == ["a", "b"]
    [(back,)] = await db.values(Account.objects.filter(Account.email == "b").values(Account.previous))
    assert type(back) is PasswordHash and back == OLD


@pytest.mark.anyio
async def test_a_plain_str_is_refused_without_quoting_it(db: Database) -> None:
    await db.raw(DDL)
    with pytest.raises(ValidationError) as caught:
        await db.create(Account(email="a", password="hunter2"))  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
    assert "Account.password" in str(caught.value) and "PasswordHash.hash(password)" in str(caught.value)
    with pytest.raises(ValidationError) as bulk:
        await db.bulk_create([Account(email="a", password="hunter2")])  # type: ignore[arg-type]
    assert "hunter2" not in str(bulk.value)
    assert await db.raw("SELECT count(*) FROM pw_accounts") == [(0,)]
