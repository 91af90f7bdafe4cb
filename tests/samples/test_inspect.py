"""``db inspect`` on the public samples: models written for each declare its schema exactly, or what they
cannot declare is refused by name (nothing approximated)."""

from __future__ import annotations

import re

import psycopg
import pytest

from djogi.migrate.introspect import catalog
from djogi.migrate.modelsource import InspectError, model_source
from tests.migrate.helpers import declared_by
from tests.samples.test_queries import (
    pytestmark,  # noqa: F401  (skipped without the sample data)
    sample_urls,  # noqa: F401  (the module-scoped fixture)
)

REFUSED = {
    "pagila": "models cannot declare payment.idx_fk_payment_p2022_01_customer_id: defined on partition "
              "payment_p2022_01 alone, which djogi does not declare",
}


@pytest.mark.parametrize("sample", ["northwind", "pagila", "chinook"])
def test_inspected_models_declare_the_sample_or_name_what_they_cannot(
    sample_urls: dict[str, str], sample: str  # noqa: F811
) -> None:
    with psycopg.connect(sample_urls[sample], autocommit=True) as conn:
        found = catalog(conn)
    if sample in REFUSED:
        with pytest.raises(InspectError, match=re.escape(REFUSED[sample])):
            model_source(found.snapshot, unmodelled=found.unmodelled)
        return
    assert declared_by(model_source(found.snapshot, unmodelled=found.unmodelled)) == found.snapshot.structure()


def test_pagila_without_its_partitions_own_objects_is_declared_exactly(
    sample_urls: dict[str, str],  # noqa: F811
) -> None:
    """Every table of pagila (its domain, CHAR(n) column, enum, arrays, tsvector, and the partitioned payment
    table keyed on (payment_date, payment_id)) is declared exactly; what stops inspect is only what the
    partitions have of their own."""
    with psycopg.connect(sample_urls["pagila"], autocommit=True) as conn:
        live = catalog(conn).snapshot
    assert declared_by(model_source(live)) == live.structure()
