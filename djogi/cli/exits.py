"""Exit codes, and the one place that maps djogi errors and ``Result`` failures to them (a psycopg error
reaching the command line is first translated as the executor translates it: ``translated``).

- ``0``: success, or nothing to do;
- ``1``: runtime failure (connection, SQL, I/O, a server that will not start): retrying may help;
- ``2``: refusal (a safety gate, bad arguments or configuration, checksum drift, a rejected
  out-of-order apply): the operator must change something first; the message says what.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TypeVar

import psycopg
from returns.result import Failure, Result

from djogi.errors import ConfigError, DjogiError, ModelDefinitionError, ValidationError
from djogi.executor import translate
from djogi.migrate import MigrationError
from djogi.migrate.modelsource import InspectError
from djogi.seeds import SeedDrift

T = TypeVar("T")

EXIT_CODES_HELP = "Exit codes: 0 success or nothing to do; 1 runtime failure (connection, SQL, I/O); " \
                  "2 refusal (safety gate, bad arguments or configuration, checksum drift)."


class ExitCode(IntEnum):
    """The process exit status of every ``djogi`` command."""

    OK = 0
    FAILURE = 1
    REFUSED = 2


class Refusal(DjogiError):
    """A deterministic refusal by the command line (exit 2); the message says what to do instead."""


_REFUSALS: tuple[type[BaseException], ...] = (
    Refusal, ConfigError, ModelDefinitionError, ValidationError, SeedDrift, InspectError,
)


def exit_code(error: BaseException) -> ExitCode:
    """The exit code for an error a command raised: 2 for refusals, 1 for runtime failures."""
    if isinstance(error, _REFUSALS) or (isinstance(error, MigrationError) and error.refusal):
        return ExitCode.REFUSED
    return ExitCode.FAILURE


def translated(error: Exception) -> Exception:
    """A psycopg error as its djogi error (``djogi.executor.errors.translate``, caused by it); others unchanged."""
    if not isinstance(error, psycopg.Error):
        return error
    djogi = translate(error)
    assert isinstance(djogi, DjogiError)
    djogi.__cause__ = error
    return djogi


def is_reportable(error: BaseException) -> bool:
    """True for errors shown as a one-line message (djogi and OS errors, psycopg's once ``translated``);
    others are bugs."""
    return isinstance(error, DjogiError | OSError)


def unwrap(result: Result[T, BaseException] | Result[T, str]) -> T:
    """The success value; a failure is raised (a ``str`` failure as a ``Refusal``)."""
    if isinstance(result, Failure):
        failure = result.failure()
        raise failure if isinstance(failure, BaseException) else Refusal(str(failure))
    return result.unwrap()
