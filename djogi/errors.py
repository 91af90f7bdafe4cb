"""The djogi error hierarchy: every error djogi raises is a ``DjogiError``.

``ArgumentTypeError`` (a ``ValidationError`` and a ``TypeError``) is raised when a public function is given
an argument of the wrong kind of object (``compile(42)``, ``where(5.9)``, ``select(object)``); like
``ModelDefinitionError``, it is also a ``TypeError``, so ``except TypeError`` keeps working.

Errors raised because the server refused a statement keep its SQLSTATE in ``sqlstate``;
``is_transient`` tells whether re-running the whole transaction may succeed.
"""

from __future__ import annotations

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


class DjogiError(Exception):
    """Base of every djogi error. ``sqlstate`` is the server's code when it raised the error."""

    sqlstate: str | None = None

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        if sqlstate is not None:
            self.sqlstate = sqlstate

    @property
    def is_transient(self) -> bool:
        """True when retrying the whole transaction may succeed (serialization, deadlock, lock, pool)."""
        return self.sqlstate in TRANSIENT_SQLSTATES


class ConfigError(DjogiError):
    """Djogi.toml or the environment holds a value djogi cannot use."""


class EmbeddedServerError(DjogiError):
    """The embedded PostgreSQL server could not be initialised, started or stopped."""


class ModelDefinitionError(DjogiError, TypeError):
    """A model class is declared in a way djogi cannot map to a table (raised at class creation)."""


class ValidationError(DjogiError, ValueError):
    """A value or argument was rejected before any SQL was sent."""


class ArgumentTypeError(ValidationError, TypeError):
    """A public function was given the wrong kind of object (not a model, a predicate, a query, a type name
    ...); the message names the argument and what it takes."""


class IdempotencyConflict(ValidationError):
    """``create_or_find`` found a row under the idempotency key that differs from the one it was given."""


class NotPortable(DjogiError):
    """A predicate cannot be evaluated in memory with the same meaning as in PostgreSQL."""

    def __init__(self, node: object, reason: str) -> None:
        super().__init__(f"{type(node).__name__} is not portable to in-memory evaluation: {reason}")
        self.node = node
        self.reason = reason


class DecodeError(DjogiError):
    """A row from the database could not be decoded into the requested type."""


class NotFound(DjogiError):
    """A query that must return one row returned none."""


class MultipleObjectsReturned(DjogiError):
    """A query that must return one row returned more than one."""


class DatabaseError(DjogiError):
    """The server rejected a statement; ``sqlstate`` says why."""


class IntegrityError(DatabaseError):
    """An integrity constraint was violated; ``constraint`` names it when the server said which."""

    constraint: str | None = None

    def __init__(self, message: str, *, sqlstate: str | None = None, constraint: str | None = None) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.constraint = constraint


class UniqueViolation(IntegrityError):
    """SQLSTATE 23505."""


class ForeignKeyViolation(IntegrityError):
    """SQLSTATE 23503, or 23001 when an ``ON DELETE/UPDATE RESTRICT`` action refused the write."""


class CheckViolation(IntegrityError):
    """SQLSTATE 23514."""


class NotNullViolation(IntegrityError):
    """SQLSTATE 23502."""


class LockConflict(DatabaseError):
    """A lock could not be taken, or a concurrent writer won (serialization failure, deadlock)."""

    @property
    def is_transient(self) -> bool:
        return True


class StaleObject(LockConflict):
    """An optimistic-locking update found that the row's version had moved on."""


class ConnectionFailure(DatabaseError):
    """The server could not be reached, or ended the session: refused, restarted (57P01 admin shutdown,
    57P02 crash shutdown, 57P03 starting up), crashed, or the network failed.

    Transient: a new connection may succeed. ``resendable`` is True when the server said it ended the
    session (57P01-57P03), so a statement run outside a transaction did not commit and can be sent again.
    """

    resendable: bool = False

    def __init__(self, message: str, *, sqlstate: str | None = None, resendable: bool = False) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.resendable = resendable

    @property
    def is_transient(self) -> bool:
        return True


class CommitUnknown(ConnectionFailure):
    """The connection failed while COMMIT was in flight: the transaction may or may not have committed.

    Not transient: re-running the transaction could apply it twice. Check the data, then decide.
    """

    @property
    def is_transient(self) -> bool:
        return False


class PoolTimeout(DjogiError):
    """No connection became free in the pool within the timeout."""

    @property
    def is_transient(self) -> bool:
        return True


class AuthError(DjogiError):
    """Authentication or authorization failed: an invalid or expired token, missing credentials, or an action
    the auth context may not take (raised by an ``djogi.auth.Authenticator``)."""


class TenantRequired(ValidationError):
    """A tenant-keyed model was used with no tenant in the auth context and no explicit bypass (refused
    before any SQL: row-level security would show no rows and refuse every write)."""


class VisageError(DjogiError):
    """A visage cannot be built or presented: an unknown audience, a nested relation that was not loaded, a
    derived field without an in-memory form, a missing presentation key (``docs/visages.md``)."""


class DerivedParityError(VisageError):
    """A derived visage field's SQL and Python forms gave different values (``check_parity``)."""


class KeyRingError(ConfigError):
    """``DJOGI_KEYRING`` is missing or malformed, so encrypted fields can be neither written nor read."""


class EncryptedFieldError(DecodeError):
    """A stored ciphertext could not be decrypted: unknown format version or key id, truncated, or its
    authentication tag does not match (tampered, or stored under another model and field)."""
