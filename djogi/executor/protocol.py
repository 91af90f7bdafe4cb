"""One statement on a connection without psycopg's cursor: ``execute`` sends it and returns its result,
``decode`` turns the result into rows.

``execute`` does what psycopg's ``AsyncCursor.execute(sql, params, binary=True)`` does for one statement
on a connection outside pipeline mode, through the same parts: the parameters dumped by a ``Transformer``
(one kept per connection, as a kept cursor keeps its own), the statement prepared or not by psycopg's
prepared-statement manager of the connection (``conn._prepared``: its threshold, its names, the
DEALLOCATEs it schedules, so statements run here and statements run by psycopg's cursors on the same
connection share one set of prepared statements), the wait through ``conn.wait`` (djogi's bounded wait,
psycopg's handling of a cancelled statement). It leaves out the cursor's own bookkeeping (its query object,
result list, position, lock and row maker), which costs about 40,000 instructions a statement: a third of
a primary-key lookup's client time against a local server.

The parts used are psycopg internals (``_prepared``, ``_check_connection_ok``, ``_preparing.Prepare``,
``generators.execute``), pinned by ``psycopg<3.4`` and checked by ``tests/executor/test_psycopg_contract.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, cast

import psycopg
from psycopg import Column, errors, pq
from psycopg._preparing import Prepare
from psycopg.abc import AdaptContext, Transformer
from psycopg.adapt import PyFormat
from psycopg.adapt import Transformer as _Transformer
from psycopg.generators import execute as _execute_gen
from psycopg.pq.abc import PGresult
from psycopg.rows import RowMaker

from djogi.errors import DecodeError
from djogi.executor.rows import RowFactory

__all__ = ["decode", "execute", "forget"]

_TX_ATTR = "_djogi_transformer"
_OK = pq.ConnStatus.OK
_BINARY = pq.Format.BINARY
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_EMPTY_QUERY = pq.ExecStatus.EMPTY_QUERY
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
_COPY = (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT, pq.ExecStatus.COPY_BOTH)
_AUTO = [[PyFormat.AUTO] * n for n in range(33)]  # the wanted formats of 0-32 parameters (read, never changed)


class _Query:
    """What psycopg's prepared-statement manager reads of a statement: its SQL bytes and parameter types."""

    __slots__ = ("query", "types")

    def __init__(self, query: bytes, types: tuple[int, ...]) -> None:
        self.query = query
        self.types = types


def _transformer(conn: psycopg.AsyncConnection[Any]) -> Transformer:
    """``conn``'s kept transformer (``conn.__dict__[_TX_ATTR]``), made on first use; ``forget`` drops it
    when the connection's adapters change (a transformer copies the adapters map when it is made)."""
    tx: Transformer = _Transformer(conn)
    conn.__dict__[_TX_ATTR] = tx
    return tx


def forget(conn: psycopg.AsyncConnection[Any]) -> None:
    """Drop ``conn``'s kept transformer (its adapters changed); the next statement makes a new one."""
    conn.__dict__.pop(_TX_ATTR, None)


async def execute(conn: psycopg.AsyncConnection[Any], sql: str, params: Sequence[object]) -> PGresult:
    """Send ``sql`` with ``params`` (a sequence, ``$n`` placeholders) on ``conn``, binary results, prepared
    when psycopg's threshold says so; its one result (TUPLES_OK, COMMAND_OK, or EMPTY_QUERY for a statement
    of nothing but a comment).

    Raises what psycopg's cursor raises: the server's error as its ``psycopg.errors`` class,
    ``psycopg.OperationalError`` for a closed or failing connection, ``psycopg.ProgrammingError`` for a
    parameter it cannot dump or a COPY statement, ``UnicodeEncodeError`` for text the connection's encoding
    cannot hold."""
    pgconn = conn.pgconn
    if pgconn.status != _OK:
        conn._check_connection_ok()
    tx: Transformer = conn.__dict__.get(_TX_ATTR) or _transformer(conn)
    n = len(params)
    values = tx.dump_sequence(params, _AUTO[n] if n < 33 else [PyFormat.AUTO] * n)
    query = _Query(sql.encode(tx.encoding), tuple(tx.types or ()))
    formats = tx.formats
    manager = conn._prepared
    prep, name = manager.get(cast(Any, query), None)
    if prep is Prepare.NO:
        pgconn.send_query_params(query.query, values, param_formats=formats, param_types=query.types,
                                 result_format=_BINARY)  # fmt: skip
    else:
        if prep is Prepare.SHOULD:
            pgconn.send_prepare(name, query.query, param_types=query.types)
            for answer in await conn.wait(_execute_gen(pgconn)):
                if answer.status == _FATAL_ERROR:
                    raise errors.error_from_result(answer, encoding=tx.encoding)
        pgconn.send_query_prepared(name, values, param_formats=formats, result_format=_BINARY)
    key = manager.maybe_add_to_cache(cast(Any, query), prep, name)
    results: list[PGresult] = await conn.wait(_execute_gen(pgconn))
    if key is not None:
        manager.validate(key, prep, name, results)
    if len(results) != 1:
        raise psycopg.InternalError(f"got {len(results)} results from one statement")
    result = results[0]
    status = result.status
    if status != _TUPLES_OK and status != _COMMAND_OK and status != _EMPTY_QUERY:
        _raise_for(result, tx.encoding)
    if manager._to_flush:  # statements psycopg's manager evicted: DEALLOCATE them now, as psycopg does
        await conn.wait(manager.maintain_gen(conn))
    return result


def _raise_for(result: PGresult, encoding: str) -> NoReturn:
    status = result.status
    if status == _FATAL_ERROR:
        raise errors.error_from_result(result, encoding=encoding)
    if status in _COPY:
        raise psycopg.ProgrammingError("COPY cannot be used with this method; use copy() instead")
    raise psycopg.InternalError(f"unexpected result status from query: {pq.ExecStatus(status).name}")


class Described:
    """What a row factory reads off a cursor (``pgresult``, ``adapters``, ``description``), for a result
    read without one."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: PGresult, adapters: AdaptContext, encoding: str) -> None:
        self.pgresult = pgresult
        self.adapters = adapters
        self._encoding = encoding  # (read by psycopg's Column)

    @property
    def description(self) -> list[Column] | None:
        """The result's columns, as ``cursor.description`` gives them (None for a result without rows)."""
        res = self.pgresult
        if not (res.nfields or res.status == _TUPLES_OK):
            return None
        return [Column(cast(Any, self), i) for i in range(res.nfields)]


def decode(
    conn: psycopg.AsyncConnection[Any], result: PGresult, row_factory: RowFactory | None
) -> tuple[list[Any], int]:
    """The rows of ``result`` (of a statement run on ``conn`` by ``execute`` or by a pipeline's cursor), built
    by ``row_factory`` (called with a ``Described`` of the result; None: tuples), and its row count (rows
    returned, else rows affected, else -1).

    Raises ``DecodeError`` naming the row when a row does not decode, and naming the columns when a value
    cannot be held in Python (a date past 9999, 'infinity')."""
    if result.status != _TUPLES_OK:
        affected = result.command_tuples
        return [], -1 if affected is None else affected
    tx: Transformer = conn.__dict__.get(_TX_ATTR) or _transformer(conn)  # (a pipeline may be the first work)
    tx.set_pgresult(result)
    try:
        make: RowMaker[Any] = tuple if row_factory is None else row_factory(Described(result, tx.adapters, tx.encoding))
        rows = tx.load_rows(0, result.ntuples, make)
    except DecodeError as exc:
        raise _located(tx, result, make, exc) from exc
    except psycopg.DataError as exc:
        described = Described(result, tx.adapters, tx.encoding).description or ()
        columns = ", ".join(f"{c.name} {c.type_display}" for c in described)
        raise DecodeError(
            f"a value in the result ({columns}) cannot be loaded into Python: {exc}; read that column through a "
            "cast to text, or keep its values within Python's range (years 1-9999, finite)"
        ) from exc
    finally:
        tx.set_pgresult(None)  # (the transformer would keep a large result alive until the next statement)
    return rows, len(rows)


def _located(tx: Transformer, result: PGresult, make: RowMaker[Any], error: DecodeError) -> DecodeError:
    """``error`` (a row of ``result`` that did not decode) naming the row's index: the rows are read again
    as tuples and decoded one by one."""
    tx.set_pgresult(result)
    for index, row in enumerate(tx.load_rows(0, result.ntuples, tuple)):
        try:
            make(row)
        except DecodeError as exc:
            return type(exc)(f"{exc} (row {index})")
    return error
