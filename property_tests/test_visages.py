"""Visages and encryption, for random declarations and values.

- For random models (field types, optionality, relations) and random exposure maps and redactions, each
  audience's visage holds exactly the keys, the timestamps and the fields exposed to it and not dropped;
  its query selects no other column; its JSON Schema lists no other property; ``to_visage`` shows each value
  as stored, masked or hashed as declared.
- Encryption round-trips every text, the stored value never equals (or contains) the text, two encryptions
  differ, a value sealed for one field does not open for another, and a ring grown by appending keys still
  reads every value written before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import keyword
import os
import re
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from djogi import Field, ForeignKey, Loaded, Model, field, protect, to_visage, visage, visage_query
from djogi.codecs.encrypted import OVERHEAD, decrypt, encrypt
from djogi.errors import EncryptedFieldError
from djogi.identifiers import RESERVED_WORDS
from djogi.model import ModelMeta, descriptor, registry_scope
from djogi.protect import AUDIENCES, MASK

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "150"))
KEY = "5a" * 32
_TYPES: dict[str, tuple[Any, Any]] = {
    "str": (str, "text"), "int": (int, 7), "bool": (bool, True), "date": (dt.date, dt.date(2024, 2, 29)),
}  # fmt: skip
_RESERVED = {"id", "created_at", "updated_at", "objects"}

names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(  # (no "_id" ending: a foreign key's column)
    lambda n: n not in _RESERVED and not keyword.iskeyword(n) and n.lower() not in RESERVED_WORDS
    and not n.startswith("_") and not n.endswith("_id")
)
audiences = st.lists(st.sampled_from(AUDIENCES), unique=True, max_size=4)


@st.composite
def declarations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Each field: name, kind (a scalar or "fk"), optional, exposure (audience -> form), redaction."""
    out = []
    for name in draw(st.lists(names, unique=True, min_size=1, max_size=6)):
        kind = draw(st.sampled_from([*_TYPES, "fk"]))
        exposed = draw(audiences)
        forms = {a: draw(st.sampled_from(["id", "public", "full"])) if kind == "fk" else "id" for a in exposed}
        redactions = st.sampled_from(["none", "mask", "drop"] + (["hash_id"] if kind in ("int", "fk") else []))
        overrides = draw(st.dictionaries(st.sampled_from(AUDIENCES), redactions, max_size=2))
        default = draw(redactions)
        out.append({"name": name, "kind": kind, "optional": draw(st.booleans()), "forms": forms,
                    "default": default, "overrides": overrides,
                    "redaction": {a: overrides.get(a, default) for a in AUDIENCES}})  # fmt: skip
    return out


def _declare(fields: list[dict[str, Any]]) -> tuple[type[Model], type[Model]]:
    target = ModelMeta("PropTarget", (Model,), {
        "__annotations__": {"label": Field[str]}, "label": field(expose=AUDIENCES),  # type: ignore[arg-type]
        "__module__": __name__,
    }, table="prop_vis_targets")  # fmt: skip
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__module__": __name__}
    for f in fields:
        tp: Any = ForeignKey[target] if f["kind"] == "fk" else Field[_TYPES[f["kind"]][0]]  # type: ignore[valid-type]
        if f["optional"]:
            tp = ForeignKey[target | None] if f["kind"] == "fk" else Field[_TYPES[f["kind"]][0] | None]  # type: ignore[valid-type]
        annotations[f["name"]] = tp
        exposure = tuple(a if form == "id" else (a, form) for a, form in f["forms"].items())
        guard = protect("pii", "property test", redaction=f["default"], per_audience=f["overrides"])
        options: dict[str, Any] = {"expose": exposure, "protected": guard}
        if f["optional"]:
            options["default"] = None
        namespace[f["name"]] = field(**options)
    namespace["__annotations__"] = annotations
    return ModelMeta("PropModel", (Model,), namespace, table="prop_vis_models"), target


def _sample(model: type[Model], target: type[Model], fields: list[dict[str, Any]]) -> tuple[Model, Model]:
    stamp = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    related = target(id=11, created_at=stamp, updated_at=stamp, label="t")  # type: ignore[call-arg]
    values = {f["name"]: 11 if f["kind"] == "fk" else _TYPES[f["kind"]][1] for f in fields}
    return model(id=5, created_at=stamp, updated_at=stamp, **values), related  # type: ignore[call-arg]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=declarations())
@example(fields=[{"name": "a", "kind": "fk", "optional": True, "forms": {"public": "public"}, "default": "none",
                  "overrides": {}, "redaction": dict.fromkeys(AUDIENCES, "none")}])  # fmt: skip
def test_a_visage_holds_exactly_what_its_audience_is_shown(fields: list[dict[str, Any]]) -> None:
    with registry_scope(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJOGI_PRESENTATION_HMAC_KEY", KEY)
        model, target = _declare(fields)
        instance, related = _sample(model, target, fields)
        desc = descriptor(model)
        for audience in AUDIENCES:
            shown = [f for f in fields if audience in f["forms"] and f["redaction"][audience] != "drop"]
            v = visage(model, audience)
            assert v.__struct_fields__ == ("id", "created_at", "updated_at", *(f["name"] for f in shown))
            assert set(msgspec.json.schema(v)["$defs"][v.__name__]["properties"]) == set(v.__struct_fields__)
            nested = [f for f in shown if f["forms"][audience] != "id" and f["redaction"][audience] == "none"]
            if not nested:
                sql = visage_query(v).sql().sql
                allowed = {desc.field(n).column for n in v.__struct_fields__}
                assert set(re.findall(r'"prop_vis_models"\."([^"]+)"', sql)) <= allowed
            row = Loaded(instance, {f["name"]: related for f in fields if f["kind"] == "fk"})
            presented = to_visage(row, v)
            for f in shown:
                value = getattr(presented, f["name"])
                if f["redaction"][audience] == "mask":
                    assert value == MASK
                elif f["redaction"][audience] == "hash_id":
                    assert value == hmac.new(bytes.fromhex(KEY), b"11" if f["kind"] == "fk" else b"7",
                                             hashlib.sha256).hexdigest()  # fmt: skip
                elif f["kind"] == "fk" and f["forms"][audience] == "full":
                    assert value is related
                elif f["kind"] == "fk" and f["forms"][audience] == "public":
                    assert value == to_visage(related, visage(target, "public"))
                else:
                    assert value == getattr(instance, f["name"])


texts = st.text(st.characters(exclude_categories=("Cs",)))
idents = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=texts, model=idents, name=idents, other=idents)
@example(text="", model="M", name="f", other="g")
@example(text="\x00", model="M", name="f", other="g")
def test_encryption_round_trips_and_never_shows_the_text(text: str, model: str, name: str, other: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJOGI_KEYRING", f"3:{KEY}")
        sealed = encrypt(text, model, name)
        assert decrypt(sealed, model, name) == text
        plain = text.encode()
        assert sealed != plain and len(sealed) == len(plain) + OVERHEAD
        if len(plain) >= 8:
            assert plain not in sealed
        assert encrypt(text, model, name) != sealed  # a fresh nonce each time
        if other != name:
            with pytest.raises(EncryptedFieldError, match="does not authenticate"):
                decrypt(sealed, model, other)


@settings(max_examples=EXAMPLES // 3, deadline=None)
@given(keys=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=5), text=texts)
def test_a_ring_grown_by_appending_reads_every_older_value(keys: list[bytes], text: str) -> None:
    entries = [f"{i}:{k.hex()}" for i, k in enumerate(keys)]
    with pytest.MonkeyPatch.context() as patch:
        written = []
        for n in range(1, len(entries) + 1):
            patch.setenv("DJOGI_KEYRING", ",".join(entries[:n]))
            written.append(encrypt(text, "M", "f"))
            assert written[-1][1] == n - 1  # written under the newest key
        assert all(decrypt(w, "M", "f") == text for w in written)
