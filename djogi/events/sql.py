"""The statements event workers run against a companion outbox table (pure).

Each is one autocommit statement: ``claim`` leases a batch with ``FOR UPDATE SKIP LOCKED`` (concurrent
workers never wait for each other nor take the same event while its lease runs), ``ack`` publishes,
``retry`` schedules the next attempt or gives up, ``release`` hands a claimed batch back at shutdown and
``expire`` fails events whose lease ran out on their last attempt (their worker was lost each time).
"""

from __future__ import annotations

from typing import Final

from djogi.identifiers import quote_ident as q

__all__ = ["ack", "claim", "expire", "release", "retry"]

_DUE: Final = ("state = ANY (ARRAY['pending', 'processing']) AND (leased_until IS NULL OR leased_until <= now()) "
               "AND retry_count < $3")  # fmt: skip


def claim(outbox: str, tenant: str | None) -> str:
    """Lease up to ``$1`` due events for ``$2`` seconds, counting the attempt, among those with fewer than ``$3``
    attempts: ``(id, row_id, action, payload, actor, created_at, retry_count, tenant)`` per event."""
    t = q(outbox)
    return (
        f"UPDATE {t} AS o SET state = 'processing', leased_until = now() + make_interval(secs => $2), "
        f"retry_count = o.retry_count + 1 FROM (SELECT id FROM {t} WHERE {_DUE} ORDER BY id LIMIT $1 "
        f"FOR UPDATE SKIP LOCKED) AS due WHERE o.id = due.id RETURNING o.id, o.row_id, o.action, o.payload, "
        f"o.actor, o.created_at, o.retry_count, {'NULL' if tenant is None else 'o.' + q(tenant)}"
    )


def ack(outbox: str) -> str:
    """Mark the events ``$1`` (ids) published."""
    return (f"UPDATE {q(outbox)} SET state = 'published', published_at = now(), leased_until = NULL, "
            "failed_reason = NULL WHERE id = ANY($1)")  # fmt: skip


def retry(outbox: str) -> str:
    """After the failed attempt on event ``$1`` (reason ``$4``): pending again after ``$2`` seconds, or failed
    when it has had ``$3`` attempts."""
    return (
        f"UPDATE {q(outbox)} SET state = CASE WHEN retry_count >= $3 THEN 'failed' ELSE 'pending' END, "
        "leased_until = CASE WHEN retry_count >= $3 THEN NULL ELSE now() + make_interval(secs => $2) END, "
        "failed_reason = $4 WHERE id = $1"
    )


def release(outbox: str) -> str:
    """Hand the claimed events ``$1`` (ids) back, undelivered and their attempt uncounted, while the lease is
    still running (once it expired another worker may hold the event: it is left to the lease)."""
    return (f"UPDATE {q(outbox)} SET state = 'pending', leased_until = NULL, retry_count = retry_count - 1 "
            "WHERE id = ANY($1) AND state = 'processing' AND leased_until > now()")  # fmt: skip


def expire(outbox: str) -> str:
    """Fail the events whose lease ran out on their ``$1``-th attempt (or later)."""
    return (
        f"UPDATE {q(outbox)} SET state = 'failed', leased_until = NULL, failed_reason = 'the lease expired on "
        "attempt ' || retry_count || ' (the worker was lost)' WHERE state = 'processing' AND leased_until <= "
        "now() AND retry_count >= $1"
    )
