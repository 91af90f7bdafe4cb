"""``db inspect`` on the public samples: models written for each declare its schema exactly, or the
columns they cannot declare yet are refused by name (nothing approximated)."""

from __future__ import annotations

import re

import psycopg
import pytest

from djogi.migrate import introspect
from djogi.migrate.modelsource import InspectError, model_source
from tests.migrate.helpers import declared_by
from tests.samples.test_queries import (
    pytestmark,  # noqa: F401  (skipped without the sample data)
    sample_urls,  # noqa: F401  (the module-scoped fixture)
)

REFUSED = {
    "pagila": "film.release_year: type year has no djogi field type yet",
}


@pytest.mark.parametrize("sample", ["northwind", "pagila", "chinook"])
def test_inspected_models_declare_the_sample_or_name_what_they_cannot(
    sample_urls: dict[str, str], sample: str  # noqa: F811
) -> None:
    with psycopg.connect(sample_urls[sample], autocommit=True) as conn:
        live = introspect(conn)
    if sample in REFUSED:
        with pytest.raises(InspectError, match=re.escape(REFUSED[sample])):
            model_source(live)
        return
    assert declared_by(model_source(live)) == live.structure()
