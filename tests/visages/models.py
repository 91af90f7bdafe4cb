"""Models shared by the visage and protected-field tests (tables prefixed ``vis_``) and their DDL."""

from __future__ import annotations

import datetime as dt

from djogi import Field, ForeignKey, HeerIdDesc, Model, Visage, derived, field, protect
from djogi.algebra.expr import upper
from djogi.migrate import diff, project
from djogi.migrate.snapshot import Snapshot
from djogi.model import descriptor


class Writer(Model, table="vis_writers"):
    name: Field[str] = field(expose=("public", "self", "admin", "export"))
    email: Field[str] = field(
        expose=("self", "admin"),
        protected=protect("pii", "to reach the writer", redaction="mask", per_audience={"self": "none"}),
    )
    phone: Field[str | None] = field(
        default=None, expose=("admin",), protected=protect("pii", "support calls", redaction="mask")
    )
    notes: Field[str] = field(default="", expose=("export",), protected=protect("internal", "ops", redaction="drop"))
    password_hint: Field[str] = field(default="")


class Title(Model, table="vis_titles"):
    name: Field[str] = field(expose=("public", "self", "admin"))
    price: Field[int] = field(default=0, expose=("admin",))
    writer: ForeignKey[Writer] = field(expose=("public", ("admin", "public"), ("self", "full")))
    editor: ForeignKey[Writer | None] = field(
        default=None, expose=("admin", "export"), protected=protect("internal", "who edits", redaction="hash_id")
    )


class TitlePublic(Visage[Title], audience="public"):
    """Declared for type checkers: djogi checks it against what Title exposes to the public."""

    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    writer: HeerIdDesc
    shout: str = derived(upper(Title.name.collate("C")))


class Patient(Model, table="vis_patients"):
    name: Field[str] = field(expose=("public", "admin"))
    ssn: Field[str] = field(expose=("admin",), protected=protect("secret", "tax filings", encrypt=True))
    diagnosis: Field[str | None] = field(default=None, protected=protect("sensitive", "care", encrypt=True))


MODELS = (Writer, Title, Patient)


def schema_sql() -> list[str]:
    """Every DDL statement creating the visage test tables (as ``djogi migrations`` would)."""
    snapshot = project([descriptor(m) for m in MODELS], "main", None).unwrap()
    plan = diff(Snapshot(enums={}, indexes=(), models={}), snapshot).unwrap()
    return [step.up for step in plan.steps]
