"""atomic(), savepoints, on_commit, cancellation, retry_on_conflict and raw SQL against the real server."""

from __future__ import annotations

import random

import anyio
import pytest

from djogi.errors import DatabaseError, ForeignKeyViolation, LockConflict, UniqueViolation, ValidationError
from djogi.executor import Database, StatementEvent

pytestmark = pytest.mark.anyio


async def _table(db: Database) -> None:
    await db.raw("CREATE TABLE t (id int PRIMARY KEY, v text UNIQUE)")


async def _ids(db: Database) -> list[int]:
    return [r[0] for r in await db.raw("SELECT id FROM t ORDER BY id")]


async def test_raw_params_and_rows(db: Database) -> None:
    assert await db.raw("SELECT $1::int + 1, $2::text", (41, "x")) == [(42, "x")]
    assert await db.raw("SELECT current_setting('heer.node_id')") == [("1",)]
    await _table(db)
    assert await db.raw("INSERT INTO t VALUES ($1, $2)", (1, "a")) == []


async def test_raw_refuses_transaction_control(db: Database) -> None:
    for sql in ("BEGIN", "  commit", "/* x */ ROLLBACK", "savepoint a", "START TRANSACTION", "-- c\nRELEASE a"):
        with pytest.raises(ValidationError, match="atomic"):
            await db.raw(sql)
    async with db.atomic():
        with pytest.raises(ValidationError):
            await db.raw("COMMIT")


@pytest.mark.parametrize("sql", [
    ";COMMIT", "SELECT 1; COMMIT", "SELECT 1;\n-- note\nEND", "/* ; */ ABORT", "select 1; prepare transaction 'x'",
    "SELECT 1; ROLLBACK AND CHAIN", "SELECT 1;;release savepoint djogi_sp_1",
])
async def test_raw_refuses_transaction_control_anywhere_in_a_statement_list(db: Database, sql: str) -> None:
    await _table(db)
    with pytest.raises(ValidationError, match="refuses transaction control"):
        async with db.atomic():
            await db.raw("INSERT INTO t VALUES (1, 'a')")
            await db.raw(sql)
    assert await _ids(db) == []  # nothing was sent: the block rolled back, the insert is gone


async def test_raw_allows_the_words_where_they_are_not_statements(db: Database) -> None:
    async with db.atomic():
        assert await db.raw("SELECT 'COMMIT' /* ; COMMIT */ -- ; ROLLBACK") == [("COMMIT",)]
        assert await db.raw("DO $$BEGIN PERFORM 'x'; END$$") == []  # a DO body is not transaction control


async def test_unique_violation_names_constraint(db: Database) -> None:
    await _table(db)
    await db.raw("INSERT INTO t VALUES (1, 'a')")
    with pytest.raises(UniqueViolation) as info:
        await db.raw("INSERT INTO t VALUES (2, 'a')")
    assert info.value.constraint == "t_v_key"
    assert info.value.sqlstate == "23505"
    assert "t_v_key" in str(info.value)
    assert not info.value.is_transient
    with pytest.raises(DatabaseError) as syntax:
        await db.raw("SELEC 1")
    assert syntax.value.sqlstate == "42601"


async def test_a_restrict_action_is_a_foreign_key_violation(db: Database) -> None:
    """ON DELETE RESTRICT fails with SQLSTATE 23001, not 23503: both are foreign-key violations."""
    await db.raw("CREATE TABLE p (id int PRIMARY KEY)")
    await db.raw("CREATE TABLE c (p int REFERENCES p ON DELETE RESTRICT)")
    await db.raw("INSERT INTO p VALUES (1)")
    await db.raw("INSERT INTO c VALUES (1)")
    with pytest.raises(ForeignKeyViolation) as info:
        await db.raw("DELETE FROM p")
    assert (info.value.sqlstate, info.value.constraint) == ("23001", "c_p_fkey")


async def test_server_errors_keep_what_the_server_reported(db: Database) -> None:
    """The message: primary (detail) [SQLSTATE], then libpq's position, HINT and CONTEXT lines."""
    with pytest.raises(DatabaseError) as syntax:
        await db.raw("SELECT 1,\n  2 FORM t")
    line = "LINE 2:   2 FORM t"
    assert str(syntax.value) == f'syntax error at or near "t" [SQLSTATE 42601]\n{line}\n{" " * (line.index(" t") + 1)}^'
    with pytest.raises(DatabaseError) as raised:
        await db.raw("DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'the detail', HINT = 'try again'; END$$")
    assert str(raised.value) == (
        "boom (the detail) [SQLSTATE P0001]\nHINT:  try again\n"
        "CONTEXT:  PL/pgSQL function inline_code_block line 1 at RAISE"
    )


async def test_commit_rollback_and_savepoints(db: Database) -> None:
    await _table(db)
    async with db.atomic():
        await db.raw("INSERT INTO t VALUES (1, 'a')")
        with pytest.raises(UniqueViolation):
            async with db.atomic():
                await db.raw("INSERT INTO t VALUES (2, 'b')")
                await db.raw("INSERT INTO t VALUES (3, 'a')")  # fails: rolls back 2 and 3 only
        async with db.atomic():
            await db.raw("INSERT INTO t VALUES (4, 'd')")
    assert await _ids(db) == [1, 4]
    with pytest.raises(RuntimeError):
        async with db.atomic():
            await db.raw("INSERT INTO t VALUES (5, 'e')")
            raise RuntimeError("boom")
    assert await _ids(db) == [1, 4]
    stats = db.stats()
    assert stats["pool_available"] == stats["pool_size"]


async def test_isolation_options(db: Database) -> None:
    async with db.atomic(isolation="serializable", read_only=True, deferrable=True):
        rows = await db.raw("SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')")
        assert rows == [("serializable", "on")]
        with pytest.raises(ValidationError, match="outermost"):
            async with db.atomic(isolation="serializable"):
                pass
    with pytest.raises(ValidationError):
        db.atomic(isolation="chaos")  # type: ignore[arg-type]


async def test_on_commit_runs_after_outermost_commit_only(db: Database) -> None:
    ran: list[str] = []

    async def later() -> None:
        ran.append("async")

    with pytest.raises(ValidationError):
        db.on_commit(lambda: ran.append("x"))
    async with db.atomic():
        db.on_commit(lambda: ran.append("outer"))
        async with db.atomic():
            db.on_commit(later)
        with pytest.raises(KeyError):
            async with db.atomic():
                db.on_commit(lambda: ran.append("dropped"))
                raise KeyError
        assert ran == []
    assert ran == ["outer", "async"]
    with pytest.raises(KeyError):
        async with db.atomic():
            db.on_commit(lambda: ran.append("rolled back"))
            raise KeyError
    assert ran == ["outer", "async"]


async def test_transaction_is_pinned_to_its_task(db: Database) -> None:
    async with db.atomic():
        errors: list[BaseException] = []

        async def child() -> None:
            try:
                await db.raw("SELECT 1")
            except ValidationError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(child)
        assert len(errors) == 1 and "pinned" in str(errors[0])

        async def own() -> None:  # a child may open its own transaction, on its own connection
            async with db.atomic():
                await db.raw("SELECT 1")

        async with anyio.create_task_group() as tg:
            tg.start_soon(own)


async def _open_transactions(db: Database) -> int:
    rows = await db.raw(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND (state LIKE 'idle in transaction%' OR xact_start IS NOT NULL)"
    )
    return int(rows[0][0])


async def test_cancellation_mid_atomic_rolls_back_and_returns_connection(db: Database) -> None:
    await _table(db)
    # Cancelled while the transaction is idle (awaiting something else) ...
    with anyio.move_on_after(0.2):
        async with db.atomic():
            await db.raw("INSERT INTO t VALUES (1, 'a')")
            await anyio.sleep(10)
    # ... and while a statement is running on the server.
    with anyio.move_on_after(0.2):
        async with db.atomic():
            await db.raw("INSERT INTO t VALUES (2, 'b')")
            await db.raw("SELECT pg_sleep(10)")
    assert await _ids(db) == []
    with anyio.fail_after(5):
        while True:
            stats = db.stats()
            if stats["pool_available"] == stats["pool_size"] and await _open_transactions(db) == 0:
                break
            await anyio.sleep(0.05)
    assert db._session.current_transaction() is None


async def test_listeners_see_every_statement(db: Database) -> None:
    events: list[StatementEvent] = []
    remove = db.add_listener(events.append)
    await db.raw("SELECT $1::int", (7,))
    async with db.atomic():
        await db.raw("SELECT 2")
    remove()
    await db.raw("SELECT 3")
    assert [e.sql for e in events] == ["SELECT $1::int", "BEGIN", "SELECT 2", "COMMIT"]
    assert events[0].params == (7,) and events[0].rowcount == 1 and events[0].duration_s > 0


async def test_retry_on_conflict_rejects_nesting_and_reraises_terminal_errors(db: Database) -> None:
    await _table(db)
    calls = 0

    async def fail() -> None:
        nonlocal calls
        calls += 1
        await db.raw("INSERT INTO t VALUES (1, 'a'), (1, 'a')")

    with pytest.raises(UniqueViolation):
        await db.retry_on_conflict(fail)
    assert calls == 1
    async with db.atomic():
        with pytest.raises(ValidationError):
            await db.retry_on_conflict(fail)


async def test_bank_transfers_under_serializable(db: Database) -> None:
    """8 tasks x 200 random transfers, SERIALIZABLE + retry: total constant, every transfer applied once."""
    accounts, tasks, transfers = 40, 8, 200
    await db.raw("CREATE TABLE account (id int PRIMARY KEY, balance bigint NOT NULL)")
    await db.raw("CREATE TABLE transfer (task int, n int, amount bigint, PRIMARY KEY (task, n))")
    await db.raw("INSERT INTO account SELECT g, 1000 FROM generate_series(1, $1::int) g", (accounts,))
    retries = 0

    async def worker(task: int) -> None:
        rng = random.Random(task)
        for n in range(transfers):
            src, dst = rng.sample(range(1, accounts + 1), 2)
            amount = rng.randint(1, 50)

            async def move(src: int = src, dst: int = dst, amount: int = amount, n: int = n) -> None:
                nonlocal retries
                retries += 1
                [(balance,)] = await db.raw("SELECT balance FROM account WHERE id = $1", (src,))
                await db.raw("UPDATE account SET balance = $1 WHERE id = $2", (balance - amount, src))
                await db.raw("UPDATE account SET balance = balance + $1 WHERE id = $2", (amount, dst))
                await db.raw("INSERT INTO transfer VALUES ($1, $2, $3)", (task, n, amount))

            await db.retry_on_conflict(move, isolation="serializable", attempts=50, backoff=0.002)

    async with anyio.create_task_group() as tg:
        for task in range(tasks):
            tg.start_soon(worker, task)
    assert await db.raw("SELECT sum(balance)::bigint FROM account") == [(accounts * 1000,)]
    assert await db.raw("SELECT count(*) FROM transfer") == [(tasks * transfers,)]
    assert retries > tasks * transfers  # real conflicts happened and were retried
    print(f"bank: {retries - tasks * transfers} retries for {tasks * transfers} transfers")


async def test_lock_not_available_is_transient(db: Database) -> None:
    await _table(db)
    await db.raw("INSERT INTO t VALUES (1, 'a')")
    async with db.atomic():
        await db.raw("SELECT * FROM t WHERE id = 1 FOR UPDATE")

        failures: list[LockConflict] = []

        async def other() -> None:
            try:
                async with db.atomic():
                    await db.raw("SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT")
            except LockConflict as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
        assert failures[0].sqlstate == "55P03" and failures[0].is_transient
