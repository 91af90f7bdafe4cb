"""The audit trail at run time: reading it (``history``, ``as_of``) and shipping it to the ``crud_log``
database (``run``, ``drain``). The trail itself is written by database triggers that migrations create for
models declared with ``audit=`` (``djogi.migrate.audit``); see ``docs/audit.md``."""

from djogi.audit.history import AuditEntry, as_of, history
from djogi.audit.ship import ShipBatch, ShipperBusy, ShipReport, drain, run

__all__ = ["AuditEntry", "ShipBatch", "ShipReport", "ShipperBusy", "as_of", "drain", "history", "run"]
