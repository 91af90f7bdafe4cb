"""The bucket advisory locks every writing runner command holds (``pg_try_advisory_lock``, polled, never
blocking): one per bucket, keyed by ``checksum.advisory_lock_key(database, app)``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from djogi.migrate.checksum import advisory_lock_key
from djogi.migrate.ledger import Connection
from djogi.migrate.runner.discovery import Bucket
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.runner.plan import Options, Progress, ProgressCallback


@contextmanager
def bucket_lock(conn: Connection, bucket: Bucket, options: Options,
                on_progress: ProgressCallback | None = None) -> Iterator[None]:  # fmt: skip
    """Hold the bucket's session advisory lock, polling ``pg_try_advisory_lock`` every
    ``options.lock_poll_s`` (a ``waiting`` event first); ``MigrationError`` (exit 1) after
    ``options.lock_attempts``. A lost connection has nothing to unlock."""
    key = advisory_lock_key(bucket.database, bucket.label)
    for attempt in range(options.lock_attempts):
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            break
        if attempt == 0 and on_progress:
            on_progress(Progress("waiting", str(bucket)))
        time.sleep(options.lock_poll_s)
    else:
        raise MigrationError(
            f"could not take the advisory lock of {bucket} (key=0x{key & (2**64 - 1):016x}) after "
            f"{options.lock_attempts} attempts; another migration is running", refusal=False,
        )  # fmt: skip
    try:
        yield
    finally:
        # A session lock ends with its connection: a lost one has nothing to unlock.
        row = None if conn.broken or conn.closed else conn.execute("SELECT pg_advisory_unlock(%s)", (key,)).fetchone()
        if row is not None and not row[0]:
            raise MigrationError(f"D274: advisory unlock of {bucket} returned false", refusal=True, code="D274")


@contextmanager
def bucket_locks(conn: Connection, chosen: list[Bucket], options: Options,
                 on_progress: ProgressCallback | None = None) -> Iterator[None]:  # fmt: skip
    """Hold the advisory locks of several buckets, taken in key order (so two commands never deadlock)."""
    if not chosen:
        yield
        return
    ordered = sorted(chosen, key=lambda b: advisory_lock_key(b.database, b.label))
    with bucket_lock(conn, ordered[0], options, on_progress), bucket_locks(conn, ordered[1:], options, on_progress):
        yield
