"""Change events from the transactional outbox (``docs/events.md``).

A model declared ``outbox=True`` gets a companion table its writes add events to, in the writing
transaction (``djogi.migrate.outbox``). ``Worker`` delivers them to handlers, at least once: batches claimed
with ``FOR UPDATE SKIP LOCKED`` and leases, retries with backoff, ``failed`` with the reason after the last
attempt, woken by ``NOTIFY``. ``djogi events run`` is the command-line runner.
"""

from djogi.events.worker import Event, Handler, Worker

__all__ = ["Event", "Handler", "Worker"]
