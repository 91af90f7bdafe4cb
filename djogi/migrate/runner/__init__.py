"""The migration runner (effectful), one module per job; the public names are re-exported by
``djogi.migrate``, this package exports nothing itself.

- ``discovery``: the buckets and migrations on disk, read into values (files only).
- ``plan``: the decisions, pure: options, progress events, apply order, what ``apply`` and ``rollback``
  refuse, the rows a rollback undoes, the applied head.
- ``compare``: what ``verify`` finds, pure: live schema vs expected snapshot, ledger vs files (D6xx).
- ``errors``: ``MigrationError`` (``refusal``: exit 2 vs 1); psycopg errors worded by the executor's
  translation. ``session``: the bounded connection every command opens. ``lock``: the bucket advisory
  locks. ``steps``: running one migration's statements.
- The commands: ``apply`` (and fake), ``rollback``, ``repair`` (and ``baseline``), ``verify`` (and
  ``status``), ``discard``.
"""
