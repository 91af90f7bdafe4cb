"""Discovery: the buckets and migrations on disk, read into values (files only, no database).

A bucket's folder is ``<migrations>/<database>/<app or _global_>``; each migration there is
``<version>.plan.json`` with its ``.sdjql`` up file, ``.down.sdjql`` down file and ``.snapshot.json`` (the
bucket's schema once it is applied); ``schema_snapshot.json`` is the newest composed schema.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from returns.pipeline import is_successful

from djogi.migrate.checksum import GLOBAL_DIR, file_checksums, is_version
from djogi.migrate.emit import SNAPSHOT_SUFFIX, PlanFile, decode_plan
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.snapshot import Snapshot, load

SCHEMA_SNAPSHOT = "schema_snapshot.json"


class Bucket(msgspec.Struct, frozen=True):
    """A ``(database, app)`` bucket; ``app`` None is the global bucket."""

    database: str
    app: str | None = None

    @property
    def label(self) -> str:
        """The ledger's ``app_label`` (``''`` for the global bucket)."""
        return self.app or ""

    @property
    def dir_name(self) -> str:
        """The folder name (``_global_`` for the global bucket)."""
        return self.app or GLOBAL_DIR

    def directory(self, migrations_dir: Path) -> Path:
        """``<migrations>/<database>/<app or _global_>``."""
        return migrations_dir / self.database / self.dir_name

    def __str__(self) -> str:
        return f"{self.database}/{self.dir_name}"


class Migration(msgspec.Struct, frozen=True):
    """One migration on disk: its plan and file texts."""

    bucket: Bucket
    version: str
    plan: PlanFile
    up_text: str
    down_text: str | None

    @property
    def slug(self) -> str:
        """The description recorded in the ledger."""
        return self.version.split("__", 1)[1]

    @property
    def statements(self) -> list[tuple[int, str, str, str]]:
        """``(segment number, kind, label, sql)`` per statement, in order."""
        return [(i, seg.kind, s.label, s.up) for i, seg in enumerate(self.plan.segments, 1) for s in seg.statements]

    @property
    def total_steps(self) -> int | None:
        """Statement count when any segment is non-transactional (progress is then tracked per step)."""
        return len(self.statements) if self.plan.non_transactional_steps else None

    @property
    def checksums(self) -> tuple[str, str | None]:
        """``(checksum_up, checksum_down)`` of the files as they are now (what the ledger records)."""
        return file_checksums(self.up_text, self.down_text)

    @property
    def edited(self) -> str | None:
        """Why the files disagree with the plan (a hand edit), or None."""
        problem = self.plan.disagreement(self.up_text, self.down_text)
        if problem == "plan":
            return f"{self.version}.plan.json statements do not match its checksum_up"
        if problem == "files":
            return f"{self.version}: the .sdjql files were edited after compose (checksums differ from plan.json)"
        return None


def buckets(migrations_dir: Path, database: str) -> list[Bucket]:
    """The buckets of ``database`` that have a folder, global first."""
    root = migrations_dir / database
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [Bucket(database, None if n == GLOBAL_DIR else n) for n in sorted(names, key=lambda n: n != GLOBAL_DIR)]


def discover(migrations_dir: Path, bucket: Bucket) -> list[Migration]:
    """The bucket's migrations, by version. Raises ``MigrationError`` (refusal) for a file name that is not
    a version, an unreadable plan, or a missing ``.sdjql`` up file."""
    directory = bucket.directory(migrations_dir)
    found = []
    for plan_path in sorted(directory.glob("V*.plan.json")):
        version = plan_path.name.removesuffix(".plan.json")
        if not is_version(version):
            raise MigrationError(f"{plan_path}: not a migration version", refusal=True)
        plan = decode_plan(plan_path.read_bytes())
        if not is_successful(plan):
            raise MigrationError(f"{plan_path}: {plan.failure()}", refusal=True)
        up_path, down_path = directory / f"{version}.sdjql", directory / f"{version}.down.sdjql"
        if not up_path.exists():
            raise MigrationError(f"{up_path} is missing", refusal=True)
        migration = Migration(
            bucket=bucket, version=version, plan=plan.unwrap(), up_text=up_path.read_text(),
            down_text=down_path.read_text() if down_path.exists() else None,
        )  # fmt: skip
        found.append(migration)
    return found


def find(migrations_dir: Path, bucket: Bucket, version: str) -> Migration:
    """The bucket's migration ``version``; ``MigrationError`` (refusal) when it has no files."""
    found = next((m for m in discover(migrations_dir, bucket) if m.version == version), None)
    if found is None:
        raise MigrationError(f"{version} has no files in {bucket.directory(migrations_dir)}", refusal=True)
    return found


def migration_snapshot_path(migrations_dir: Path, bucket: Bucket, version: str) -> Path:
    """``<bucket>/<version>.snapshot.json``: the bucket's schema once ``version`` is applied."""
    return bucket.directory(migrations_dir) / f"{version}{SNAPSHOT_SUFFIX}"


def schema_snapshot_path(migrations_dir: Path, bucket: Bucket) -> Path:
    """``<bucket>/schema_snapshot.json``: the newest composed schema."""
    return bucket.directory(migrations_dir) / SCHEMA_SNAPSHOT


def load_snapshot(path: Path) -> Snapshot:
    """The snapshot in ``path``; ``MigrationError`` (exit 1) when it cannot be read."""
    loaded = load(path)
    if not is_successful(loaded):
        raise MigrationError(loaded.failure(), refusal=False)
    return loaded.unwrap()
