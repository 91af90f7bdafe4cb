"""Shared helpers for the audit tests: audited models migrated by the owner, written by the app role."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from djogi import Audit, Field, Model, descriptor, field
from djogi.migrate import apply, compose

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Account(Model, table="aud_accounts", audit=Audit(exclude=("password",))):
    email: Field[str]
    password: Field[str]
    balance: Field[int] = field(default=0)


class Ledger(Model, table="aud_ledger", tenant_key="tenant_id", audit=True):
    tenant_id: Field[int]
    memo: Field[str]


class Plain(Model, table="aud_plain"):
    name: Field[str]


class Pair(Model, table="aud_pairs", primary_key=("owner", "label"), audit=True, timestamps=False):
    owner: Field[int]
    label: Field[str]
    weight: Field[int]


MODELS = (Account, Ledger, Plain, Pair)


def migrate(url: str, directory: Path) -> None:
    """Compose the audit models' migration into ``directory`` and apply it as the owner (``url``)."""
    compose(directory, [descriptor(m) for m in MODELS], T0, slug="audit").unwrap()
    apply(url, directory)


# One model ``Note`` in several declarations (each declared inside a registry scope by the caller).


def plain() -> None:
    class Note(Model, table="notes"):
        tenant_id: Field[int]
        body: Field[str]
        secret: Field[str] = field(default="")


def audited() -> None:
    class Note(Model, table="notes", audit=True):
        tenant_id: Field[int]
        body: Field[str]
        secret: Field[str] = field(default="")


def excluding() -> None:
    class Note(Model, table="notes", audit=Audit(exclude=("secret",))):
        tenant_id: Field[int]
        body: Field[str]
        secret: Field[str] = field(default="")


def tenanted() -> None:
    class Note(Model, table="notes", tenant_key="tenant_id", audit=Audit(exclude=("secret",))):
        tenant_id: Field[int]
        body: Field[str]
        secret: Field[str] = field(default="")


def renamed() -> None:
    class Note(Model, table="notes", audit=Audit(exclude=("hidden",))):
        tenant_id: Field[int]
        body: Field[str]
        hidden: Field[str] = field(default="", renamed_from="secret")


def renamed_plain() -> None:
    class Note(Model, table="notes"):
        tenant_id: Field[int]
        body: Field[str]
        hidden: Field[str] = field(default="")
