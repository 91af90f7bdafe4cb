"""What a field declaration says about who may see it and how sensitive it is: audiences, exposure and
protection, as plain values the schema stores on each field.

``field(expose=("public", "admin"))`` lists the audiences (``public``, ``self``, ``admin``, ``export``) whose
visage holds the field; a field listed nowhere is internal (the model only). On a relation, an audience may
name the form the relation takes: ``("admin", "public")`` the target's ``public`` visage, ``("self",
"full")`` the whole target model; a bare audience exposes the key (``"id"``).

``field(protected=protect("pii", "shown to support staff", redaction="mask", encrypt=True))`` declares the
field's sensitivity and why it is kept, how visages present it (``mask``: ``"[REDACTED]"``, ``drop``: left
out, ``hash_id``: a keyed hash of the value; ``per_audience`` overrides it for some audiences) and whether it
is encrypted at rest (``djogi.codecs.encrypted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, cast, get_args

import msgspec

from djogi.errors import ModelDefinitionError

__all__ = [
    "AUDIENCES", "MASK", "Audience", "Exposure", "Protected", "Redaction", "RelationForm", "Sensitivity", "protect",
]  # fmt: skip

Audience = Literal["public", "self", "admin", "export"]
AUDIENCES: Final[tuple[Audience, ...]] = get_args(Audience)
RelationForm = Literal["id", "full", "public", "self", "admin", "export"]
"""How a relation appears in a visage: its key (``"id"``), the target's visage for that audience, or the
whole target model (``"full"``)."""
Exposure = Audience | tuple[Audience, RelationForm]
Sensitivity = Literal["none", "internal", "pii", "sensitive", "secret"]
Redaction = Literal["none", "mask", "drop", "hash_id"]
MASK: Final = "[REDACTED]"
"""What a masked value reads in a visage."""


class Protected(msgspec.Struct, frozen=True, kw_only=True):
    """A field's protection: ``sensitivity``, the ``rationale`` for keeping it, its ``redaction`` in visages
    (``per_audience`` overrides it for some audiences) and whether it is ``encrypt``-ed at rest. Build it with
    ``protect``."""

    sensitivity: Sensitivity
    rationale: str
    redaction: Redaction = "none"
    encrypt: bool = False
    per_audience: tuple[tuple[Audience, Redaction], ...] = ()

    def redaction_for(self, audience: Audience) -> Redaction:
        """How ``audience``'s visage presents the field."""
        for given, redaction in self.per_audience:
            if given == audience:
                return redaction
        return self.redaction

    @property
    def redactions(self) -> frozenset[Redaction]:
        """Every redaction some audience gets."""
        return frozenset((self.redaction, *(r for _, r in self.per_audience)))

    def __repr__(self) -> str:
        return (
            f"Protected(sensitivity={self.sensitivity!r}, redaction={self.redaction!r}, encrypt={self.encrypt}"
            + (f", per_audience={dict(self.per_audience)!r})" if self.per_audience else ")")
        )


def protect(
    sensitivity: Sensitivity,
    rationale: str = "",
    *,
    redaction: Redaction = "none",
    encrypt: bool = False,
    per_audience: Mapping[Audience, Redaction] | None = None,
) -> Protected:
    """The value of ``field(protected=...)``; ``per_audience`` gives some audiences another redaction
    (``redaction="mask", per_audience={"self": "none"}``: the row's owner sees the value, everyone else a mask).

    ``ModelDefinitionError`` for an unknown sensitivity, audience or redaction, a missing ``rationale`` when
    the sensitivity is above ``"none"``, and a redaction or encryption on a ``"none"`` field (nothing to
    protect).
    """
    if sensitivity not in get_args(Sensitivity):
        raise ModelDefinitionError(f"protect(): sensitivity {sensitivity!r} is not one of {get_args(Sensitivity)}")
    overrides = tuple((per_audience or {}).items())
    for audience, chosen in overrides:
        if audience not in AUDIENCES:
            raise ModelDefinitionError(f"protect(): per_audience: {audience!r} is not an audience; the audiences "
                                       f"are {AUDIENCES}")  # fmt: skip
        if chosen not in get_args(Redaction):
            raise ModelDefinitionError(f"protect(): per_audience[{audience!r}]: {chosen!r} is not one of "
                                       f"{get_args(Redaction)}")  # fmt: skip
    if redaction not in get_args(Redaction):
        raise ModelDefinitionError(f"protect(): redaction {redaction!r} is not one of {get_args(Redaction)}")
    if not isinstance(cast(object, rationale), str):  # checked at run time: not every caller is type-checked
        raise ModelDefinitionError("protect(): rationale must be a str")
    if sensitivity == "none":
        if redaction != "none" or encrypt or any(r != "none" for _, r in overrides):
            raise ModelDefinitionError('protect("none") takes no redaction or encryption: nothing is protected')
    elif not rationale.strip():
        raise ModelDefinitionError(
            f'protect({sensitivity!r}) needs a rationale: say why the field is kept, e.g. protect("pii", "billing")'
        )
    return Protected(
        sensitivity=sensitivity, rationale=rationale, redaction=redaction, encrypt=encrypt, per_audience=overrides
    )
