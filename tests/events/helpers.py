"""Shared helpers for the outbox tests: outbox-enabled models migrated by the owner, used by the app role."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from djogi import Field, Model, descriptor, field
from djogi.migrate import apply, compose

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Order(Model, table="ev_orders", outbox=True):
    customer: Field[str]
    total: Field[int] = field(default=0)
    card: Field[str] = field(default="", outbox_exclude=True)


class Memo(Model, table="ev_memos", outbox=True, tenant_key="tenant_id"):
    tenant_id: Field[int]
    body: Field[str]


MODELS = (Order, Memo)


def migrate(url: str, directory: Path) -> None:
    """Compose the outbox models' migration into ``directory`` and apply it as the owner (``url``)."""
    compose(directory, [descriptor(m) for m in MODELS], T0, slug="outbox").unwrap()
    apply(url, directory)

