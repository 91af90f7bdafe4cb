"""``check``: the migrations directory against the models, without a database (reads files only).

Models that changed with no migration composed (``M001``), migration files edited after compose
(``M002``), unreadable plan or snapshot files (``M003``) and the linter's findings (``lint.lint_sql``) for
every migration's SQL. ``CheckReport.ok`` is false when an error-severity finding is found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import msgspec
from returns.pipeline import is_successful

from djogi.migrate.checksum import PHASE_ZERO_VERSION
from djogi.migrate.compose import plan_compose
from djogi.migrate.emit import SNAPSHOT_SUFFIX, decode_plan
from djogi.migrate.lint import Finding, lint_sql
from djogi.migrate.snapshot import load
from djogi.model import ModelDescriptor


class CheckReport(msgspec.Struct, frozen=True):
    """``check`` findings; ``ok`` when there are no error-severity findings."""

    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing needs fixing."""
        return all(f.severity != "error" for f in self.findings)


def check(migrations_dir: Path, descriptors: Iterable[ModelDescriptor], *, lint: bool = True) -> CheckReport:
    """Models vs committed snapshots, files vs their plans, and the linter, without a database."""
    findings: list[Finding] = []
    planned = plan_compose(migrations_dir, descriptors, dt.datetime.now(dt.UTC))
    if not is_successful(planned):
        findings.append(Finding("M000", str(migrations_dir), str(planned.failure()), "fix the model or snapshot"))
    else:
        for b in planned.unwrap().buckets:
            labels = ", ".join(op.label for op in b.plan.operations[:5])
            findings.append(Finding("M001", b.directory_name, f"models changed with no migration ({labels}...)",
                                    "run `djogi migrations compose`"))  # fmt: skip
    for plan_path in sorted(migrations_dir.glob("*/*/V*.plan.json")):
        version = plan_path.name.removesuffix(".plan.json")
        where = f"{plan_path.parent.parent.name}/{plan_path.parent.name}/{version}"
        plan = decode_plan(plan_path.read_bytes())
        if not is_successful(plan):
            findings.append(Finding("M003", where, str(plan.failure()), "restore the file from version control"))
            continue
        p = plan.unwrap()
        up_path, down_path = plan_path.with_name(f"{version}.sdjql"), plan_path.with_name(f"{version}.down.sdjql")
        up_text = up_path.read_text() if up_path.exists() else ""
        down_text = down_path.read_text() if down_path.exists() else None
        if p.disagreement(up_text, down_text) is not None:
            fix = "restore them or re-compose; applied edits need `repair checksum-drift`"
            findings.append(Finding("M002", where, "migration files were edited after compose (checksums differ)", fix))
        snapshot_path = plan_path.with_name(f"{version}{SNAPSHOT_SUFFIX}")
        if snapshot_path.exists() and not is_successful(loaded := load(snapshot_path)):
            findings.append(Finding("M003", where, str(loaded.failure()), "restore the file from version control"))
        if lint and version != PHASE_ZERO_VERSION:
            statements = [(f"{where} [{s.label}]", s.up, seg.kind == "transactional")
                          for seg in p.segments for s in seg.statements]  # fmt: skip
            findings += lint_sql(statements)
    return CheckReport(tuple(findings))
