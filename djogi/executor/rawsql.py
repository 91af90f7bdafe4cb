"""What a raw SQL string contains, read by PostgreSQL's own parser (pglast wraps libpg_query)."""

from __future__ import annotations

import functools

import msgspec
from pglast.parser import ParseError, parse_sql_json


class _RawStmt(msgspec.Struct):
    stmt: dict[str, msgspec.Raw]


class _ParseTree(msgspec.Struct):
    stmts: list[_RawStmt] = []


class _TransactionStmt(msgspec.Struct):
    kind: str


_decode_tree = msgspec.json.Decoder(_ParseTree).decode
_decode_tx = msgspec.json.Decoder(_TransactionStmt).decode


@functools.lru_cache(maxsize=1024)
def transaction_control(sql: str) -> str | None:
    """The first transaction-control statement in ``sql`` (``"COMMIT"``, ``"BEGIN"``, ``"PREPARE"``
    for PREPARE TRANSACTION ...), or None.

    ``sql`` may hold several statements; comments, string literals and function or DO bodies are
    not statements (a ``COMMIT`` inside a DO block is the block's business). SQL the parser rejects
    gives None: the server, whose grammar it is, reports the syntax error.
    """
    try:
        tree = _decode_tree(parse_sql_json(sql))
    except ParseError:
        return None
    for raw in tree.stmts:
        node = raw.stmt.get("TransactionStmt")
        if node is not None:
            return _decode_tx(node).kind.removeprefix("TRANS_STMT_").replace("_", " ")
    return None
