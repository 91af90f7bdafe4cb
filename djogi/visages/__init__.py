"""Visages: what each audience (public, self, admin, export) may see of a model, as frozen msgspec Structs
derived from the model's ``field(expose=..., protected=...)`` declarations (``docs/visages.md``).

``core`` builds and checks visage types, their queries and in-memory conversion; ``derived`` the derived
fields; ``presentation`` the keyed hash of ``hash_id`` redaction; ``parity`` the SQL-versus-Python check of
derived fields.
"""

from djogi.visages.core import Visage, VisageField, to_visage, visage, visage_fields, visage_query
from djogi.visages.derived import derived
from djogi.visages.parity import check_parity

__all__ = ["Visage", "VisageField", "check_parity", "derived", "to_visage", "visage", "visage_fields", "visage_query"]
