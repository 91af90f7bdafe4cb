"""Migration files (pure rendering + atomic writes).

``render(plan, version, bucket)`` turns a ``Plan`` into a ``MigrationFiles`` value: the ``.sdjql`` up file
(header, then ``-- <label>`` and SQL per step), the ``.down.sdjql`` file (steps reversed, ``-- LOSSY:``
notes), the ``.plan.json`` (segments of adjacent steps that share a transaction mode, checksums) exactly
as in the reference, and the ``.snapshot.json`` sibling: the full snapshot the bucket has once the
migration is applied (the reference's pending file carries it as ``model_snapshot``; djogi keeps it next to
the migration so ``verify`` and ``rollback`` know the schema as of any version). ``write(files, directory,
force=False)`` writes them atomically; a file that already exists with other bytes (a hand edit, or
another compose) is refused rather than overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
from returns.result import Failure, Result, Success

from djogi.migrate.checksum import (
    DOWN_BANNER,
    UP_BANNER,
    compute_checksum,
    down_checksum,
    file_checksums,
    one_line,
    parse_fragments,
    tidy,
)
from djogi.migrate.diff import Classification, Plan
from djogi.migrate.operations import Step
from djogi.migrate.snapshot import Snapshot, encode, write_atomic

SNAPSHOT_SUFFIX = ".snapshot.json"
SegmentKind = Literal["transactional", "non_transactional", "metadata_only"]
_DEBUG_NAMES = {"no_op": "NoOp", "additive": "Additive", "reversible": "Reversible", "destructive": "Destructive",
                "lossy": "Lossy"}  # fmt: skip


class PlanStatement(msgspec.Struct, frozen=True):
    """One statement of a plan segment."""

    label: str
    up: str


class Segment(msgspec.Struct, frozen=True):
    """Adjacent statements run the same way: in one transaction, or one by one in autocommit."""

    kind: SegmentKind
    statements: tuple[PlanStatement, ...]


class PlanClassification(msgspec.Struct, frozen=True):
    """``{"kind": "additive"}`` and friends."""

    kind: str


class PlanFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``<version>.plan.json``."""

    format_version: str
    checksum_up: str
    checksum_down: str | None
    classification: PlanClassification
    segments: tuple[Segment, ...]

    @property
    def fragments(self) -> tuple[str, ...]:
        """Every statement's up SQL in plan order (the checksum domain)."""
        return tuple(s.up for seg in self.segments for s in seg.statements)

    @property
    def non_transactional_steps(self) -> int:
        """How many statements run outside a transaction."""
        return sum(len(s.statements) for s in self.segments if s.kind == "non_transactional")

    def disagreement(self, up_text: str, down_text: str | None) -> Literal["plan", "files"] | None:
        """Where a hand edit shows: ``"plan"`` when the statements do not hash to ``checksum_up``, ``"files"``
        when the ``.sdjql`` texts do not hash to the plan's checksums (a missing down file is not compared),
        else None."""
        if compute_checksum(self.fragments) != self.checksum_up:
            return "plan"
        up, down = file_checksums(up_text, down_text)
        if up != self.checksum_up or (down_text is not None and down != self.checksum_down):
            return "files"
        return None


class MigrationFiles(msgspec.Struct, frozen=True):
    """The files of one migration, as text; ``snapshot`` is the bucket's schema once it is applied."""

    version: str
    up: str
    down: str
    plan: PlanFile
    snapshot: Snapshot | None = None

    def named(self) -> dict[str, str]:
        """File name -> content."""
        named = {
            f"{self.version}.sdjql": self.up,
            f"{self.version}.down.sdjql": self.down,
            f"{self.version}.plan.json": encode_plan(self.plan),
        }
        if self.snapshot is not None:
            named[f"{self.version}{SNAPSHOT_SUFFIX}"] = encode(self.snapshot).decode()
        return named


def encode_plan(plan: PlanFile) -> str:
    """Pretty JSON with a trailing newline, fields in the reference's order."""
    return msgspec.json.format(msgspec.json.encode(plan), indent=2).decode() + "\n"


def decode_plan(text: str | bytes) -> Result[PlanFile, str]:
    """Parse a ``.plan.json``; ``Failure`` says why it is unusable."""
    try:
        plan = msgspec.json.decode(text, type=PlanFile)
    except msgspec.DecodeError as exc:
        return Failure(f"invalid plan.json: {exc}")
    if plan.format_version != "1":
        return Failure(f"unsupported plan.json format_version {plan.format_version!r}")
    return Success(plan)


def adopt_files(plan: PlanFile, up_text: str, down_text: str | None) -> Result[PlanFile, str]:
    """``plan`` carrying an accepted edit of its files (``repair checksum-drift``): each statement takes the
    SQL of the up file's block at its position (labels, segments and classification unchanged) and the
    checksums become the files' (the down checksum is kept when the down file is missing). ``Failure`` says
    why not when the up file lost its composed framing or holds another number of blocks than the plan has
    statements (which segment, transactional or not, an added block belongs to is then unknown)."""
    blocks = parse_fragments(up_text)
    if blocks is None:
        return Failure("its up file has lost the composed framing (the banner, then a `-- <label>` line per block)")
    if len(blocks) != len(plan.fragments):
        return Failure(f"its up file has {len(blocks)} statement block(s) and its plan {len(plan.fragments)}, so "
                       "which segment (transactional or not) each one belongs to is unknown")  # fmt: skip
    sqls = iter(sql for _, sql in blocks)
    segments = tuple(
        Segment(seg.kind, tuple(PlanStatement(s.label, next(sqls)) for s in seg.statements)) for seg in plan.segments
    )
    up, down = file_checksums(up_text, down_text)
    down = down if down_text is not None else plan.checksum_down
    return Success(msgspec.structs.replace(plan, checksum_up=up, checksum_down=down, segments=segments))


def _header(banner: str, version: str, bucket: str, classification: str | None) -> str:
    lines = [banner, f"-- Version: {version}", f"-- Bucket:  {bucket}"]
    if classification is not None:
        lines.append(f"-- Classification: {classification}")
    lines.append("-- DO NOT EDIT — regenerate via `djogi migrations compose`.")
    return "\n".join(lines) + "\n\n"


def render_steps(steps: tuple[Step, ...], version: str, bucket: str, classification: Classification, *,
                 snapshot: Snapshot | None = None) -> MigrationFiles:  # fmt: skip
    """The files for ``steps`` (see the module docstring); ``snapshot`` is the schema they produce."""
    ups = [tidy(s.up) for s in steps]
    downs = [tidy(s.down) for s in steps]
    up = _header(UP_BANNER, version, bucket, _DEBUG_NAMES[classification])
    up += "".join(f"-- {one_line(s.label)}\n{sql}\n\n" for s, sql in zip(steps, ups, strict=True))
    down = _header(DOWN_BANNER, version, bucket, None)
    for s, sql in reversed(list(zip(steps, downs, strict=True))):
        lossy = f"-- LOSSY: {one_line(s.lossy)}\n" if s.lossy else ""
        down += f"-- {one_line(s.label)}\n{lossy}{sql}\n\n"
    segments: list[Segment] = []
    for s, sql in zip(steps, ups, strict=True):
        kind: SegmentKind = "transactional" if s.transactional else "non_transactional"
        statement = PlanStatement(s.label, sql)
        if segments and segments[-1].kind == kind:
            segments[-1] = Segment(kind, (*segments[-1].statements, statement))
        else:
            segments.append(Segment(kind, (statement,)))
    plan = PlanFile(
        format_version="1", checksum_up=compute_checksum(ups), checksum_down=down_checksum(downs),
        classification=PlanClassification(classification), segments=tuple(segments),
    )  # fmt: skip
    return MigrationFiles(version=version, up=up, down=down, plan=plan, snapshot=snapshot)


def render(plan: Plan, version: str, bucket: str, *, snapshot: Snapshot | None = None) -> MigrationFiles:
    """The files of a differ plan; ``snapshot`` is the schema the bucket has once it is applied."""
    return render_steps(plan.steps, version, bucket, plan.classification, snapshot=snapshot)


def conflicts(files: MigrationFiles, directory: Path) -> list[Path]:
    """Existing files in ``directory`` whose bytes differ from what ``files`` would write."""
    found = []
    for name, text in files.named().items():
        path = directory / name
        if path.exists() and path.read_text() != text:
            found.append(path)
    return found


def write(files: MigrationFiles, directory: Path, *, force: bool = False) -> Result[tuple[Path, ...], str]:
    """Write the files atomically; refuse (D013) to overwrite different bytes unless ``force``."""
    clashing = conflicts(files, directory)
    if clashing and not force:
        names = ", ".join(str(p) for p in clashing)
        return Failure(f"D013: {names} differ from what compose would write (hand-edited?); "
                       "refusing to overwrite (pass force_overwrite to replace them)")  # fmt: skip
    written = []
    for name, text in files.named().items():
        write_atomic(directory / name, text.encode())
        written.append(directory / name)
    return Success(tuple(written))
