"""The outbox through compose, apply, verify and rollback on the real server."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from djogi import Field, Model, descriptor, field
from djogi.migrate import Bucket, apply, compose, plan_compose, rollback, verify
from djogi.model import models, registry_scope
from tests.events.helpers import MODELS, T0, migrate
from tests.migrate.helpers import codes, sql

MAIN = Bucket("main")
T1 = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)




def test_apply_then_verify_and_compose_find_nothing(db_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    assert verify(db_url, tmp_path, MAIN, models=[descriptor(m) for m in MODELS]).diagnostics == ()
    assert plan_compose(tmp_path, [descriptor(m) for m in MODELS], T1).unwrap().empty


@pytest.mark.parametrize(
    ("tamper", "subject"),
    [
        ('DROP TRIGGER "djogi_outbox_update" ON "ev_orders"', "ev_orders"),
        ('ALTER TABLE "ev_orders" DISABLE TRIGGER "djogi_outbox_delete"', "ev_orders"),
        ("CREATE OR REPLACE FUNCTION ev_orders_outbox_capture() RETURNS trigger LANGUAGE plpgsql AS "
         "$$BEGIN RETURN NULL; END$$", "ev_orders"),
        ('DROP TRIGGER "djogi_outbox_insert" ON "ev_orders"; CREATE TRIGGER "djogi_outbox_insert" AFTER INSERT ON '
         '"ev_orders" REFERENCING NEW TABLE AS djogi_rows FOR EACH STATEMENT EXECUTE FUNCTION '
         '"ev_orders_outbox_capture"()', "ev_orders"),
    ],
)  # fmt: skip
def test_verify_reports_missing_altered_or_disabled_triggers(db_url: str, tmp_path: Path, tamper: str,
                                                              subject: str) -> None:  # fmt: skip
    migrate(db_url, tmp_path)
    sql(db_url, tamper)
    assert codes(verify(db_url, tmp_path, MAIN)) == [("D644", subject)]


def test_excluded_columns_are_read_back_exactly(db_url: str, tmp_path: Path) -> None:
    """The trigger's arguments are split by count, not trimmed: a last excluded column ending in 0 keeps it."""

    def declare() -> None:
        class Card(Model, table="ev_cards", outbox=True):
            pin0: Field[str] = field(default="", outbox_exclude=True)

    _compose(tmp_path, declare, T0)
    apply(db_url, tmp_path)
    with registry_scope(isolated=True):
        declare()
        assert verify(db_url, tmp_path, MAIN, models=list(models())).diagnostics == ()


def _orders(excluded: bool, outbox: bool = True) -> Callable[[], None]:
    def declare() -> None:
        class Order(Model, table="ev_orders", outbox=outbox):
            customer: Field[str]
            card: Field[str] = field(default="", outbox_exclude=excluded)

    return declare


def _compose(directory: Path, declare: Callable[[], None], now: dt.datetime) -> None:
    with registry_scope(isolated=True):
        declare()
        compose(directory, models(), now, slug="step", allow_destructive=True).unwrap()


def test_changing_exclusions_and_removing_the_option_round_trips(db_url: str, tmp_path: Path) -> None:
    _compose(tmp_path, _orders(False), T0)
    _compose(tmp_path, _orders(True), T1)
    _compose(tmp_path, _orders(False, outbox=False), T2)
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    assert sql(db_url, "SELECT to_regclass('ev_orders_outbox') IS NULL") == [(True,)]
    assert rollback(db_url, tmp_path, MAIN, allow_data_loss=True, reason="test").ok  # the outbox is back, card excluded
    assert codes(verify(db_url, tmp_path, MAIN)) == []
    sql(db_url, "INSERT INTO ev_orders (customer, card) VALUES ('a', '4111')")
    assert sql(db_url, "SELECT payload ? 'card', payload->>'customer' FROM ev_orders_outbox") == [(False, "a")]
    assert rollback(db_url, tmp_path, MAIN).ok  # card in the payloads again
    assert codes(verify(db_url, tmp_path, MAIN)) == []
    sql(db_url, "UPDATE ev_orders SET customer = 'b'")
    assert sql(db_url, "SELECT payload->>'card' FROM ev_orders_outbox WHERE action = 'save'") == [("4111",)]
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()


def test_db_inspect_declares_the_outbox_as_the_models_do(db_url: str, tmp_path: Path) -> None:
    import psycopg

    from djogi.migrate import introspect
    from djogi.migrate.modelsource import model_source
    from tests.migrate.helpers import declared_by

    migrate(db_url, tmp_path)
    with psycopg.connect(db_url) as conn:
        live = introspect(conn, tables=["ev_orders", "ev_orders_outbox", "ev_memos", "ev_memos_outbox"])
    source = model_source(live)
    assert "outbox=True" in source and "outbox_exclude=True" in source and "class EvOrdersOutbox" not in source
    assert declared_by(source) == live.structure()


def _renamed() -> None:
    class Order(Model, table="ev_purchases", outbox=True, renamed_from="ev_orders"):
        customer: Field[str]
        card: Field[str] = field(default="", outbox_exclude=True)


def test_renaming_an_outbox_table_moves_its_triggers_and_rolls_back(db_url: str, tmp_path: Path) -> None:
    """The companion table is renamed with its table: events not yet delivered survive both ways."""
    _compose(tmp_path, _orders(True), T0)
    apply(db_url, tmp_path)
    sql(db_url, "INSERT INTO ev_orders (customer, card) VALUES ('pending', 'x')")
    _compose(tmp_path, _renamed, T1)
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    sql(db_url, "INSERT INTO ev_purchases (customer, card) VALUES ('a', 'x')")
    assert sql(db_url, "SELECT payload->>'customer', payload ? 'card' FROM ev_purchases_outbox ORDER BY id") == [
        ("pending", False), ("a", False)
    ]
    assert sql(db_url, "SELECT to_regclass('ev_orders_outbox') IS NULL") == [(True,)]
    assert rollback(db_url, tmp_path, MAIN, reason="test").ok  # no data lost, so no allow_data_loss
    assert codes(verify(db_url, tmp_path, MAIN)) == []
    sql(db_url, "UPDATE ev_orders SET customer = 'b' WHERE customer = 'a'")
    assert sql(db_url, "SELECT action, payload->>'customer' FROM ev_orders_outbox ORDER BY id") == [
        ("create", "pending"), ("create", "a"), ("save", "b")
    ]
