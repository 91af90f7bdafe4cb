"""``MigrationError``: how every runner command refuses (``refusal=True``, exit 2) or fails (exit 1).

A psycopg error becomes one through ``failure``, worded by the executor's translation
(``djogi.executor.errors.translate``: the server's message, its detail and ``[SQLSTATE ...]``), so the
runner, the executor, seeds and the CLI say the same thing for the same server error.
"""

from __future__ import annotations

from djogi.errors import DjogiError
from djogi.executor.errors import translate


class MigrationError(DjogiError):
    """A migration command refused (``refusal=True``: exit 2) or failed at runtime (exit 1); ``code`` names
    the refusal (``ChecksumMismatch``, ``UnfinishedMigration`` ...), ``sqlstate`` the server's error."""

    def __init__(self, message: str, *, refusal: bool, code: str = "", sqlstate: str | None = None) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.refusal = refusal
        self.code = code


def reason(exc: BaseException) -> str:
    """What went wrong, as the executor's translation words a psycopg error (any other error as it is)."""
    return str(translate(exc)).strip()


def failure(context: str, exc: BaseException, *, then: str = "", code: str = "") -> MigrationError:
    """The runtime failure (exit 1) ``<context>: <reason(exc)>[; <then>]``, keeping the server's SQLSTATE."""
    translated = translate(exc)
    sqlstate = translated.sqlstate if isinstance(translated, DjogiError) else None
    message = f"{context}: {str(translated).strip()}" + (f"; {then}" if then else "")
    return MigrationError(message, refusal=False, code=code, sqlstate=sqlstate)
