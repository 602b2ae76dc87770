"""Shared checks for the hardening tests: after any bad input or fault, the store must be whole."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.grounding.schema import GroundingRecord


def stored_records(engine: Engine) -> dict[str, tuple[dict, np.ndarray, str]]:
    """Every catalog record as Chroma holds it: id -> (metadata, vector, document)."""
    store = engine._existing_catalog()
    if store is None:
        return {}
    raw = store.dense._collection.get(include=["metadatas", "embeddings", "documents"])
    return {
        item_id: (metadata, np.asarray(vector, dtype=np.float32), document)
        for item_id, metadata, vector, document in zip(
            raw["ids"], raw["metadatas"], raw["embeddings"], raw["documents"]
        )
    }


def check_store(engine: Engine, expected_ids: set[str] | None = None) -> dict[str, tuple[dict, np.ndarray, str]]:
    """Assert the catalog is consistent: no half-written records, sound vectors, searchable.

    With ``expected_ids``, the stored ids must be exactly those. Returns the records so that a
    test can compare them with what was stored before a fault.
    """
    records = stored_records(engine)
    store = engine._existing_catalog()
    if expected_ids is not None:
        assert set(records) == set(expected_ids), (
            f"missing {sorted(set(expected_ids) - set(records))}, unexpected {sorted(set(records) - set(expected_ids))}"
        )
    if store is None:
        return records
    assert store.count() == len(records), "Chroma's count disagrees with its records"
    for item_id, (metadata, vector, document) in records.items():
        assert metadata and metadata.get("content_hash"), f"{item_id}: no content hash"
        record = GroundingRecord.model_validate_json(metadata["record"])  # parses whole
        assert record.attributes is not None, item_id
        json.loads(metadata.get("extra") or "{}")
        assert document, f"{item_id}: no embedded text"
        assert vector.shape == (store.dim,), f"{item_id}: vector of shape {vector.shape}"
        assert np.isfinite(vector).all() and np.linalg.norm(vector) > 0.5, f"{item_id}: vector not normalised"
    if records:  # every stored item is found again by its own vector
        sample = sorted(records)[:: max(1, len(records) // 5)]
        for item_id in sample:
            found = store.nearest(records[item_id][1][None, :], 5, with_vectors=False)[0]
            twins = [c.id for c in found if c.similarity > 0.999]
            assert item_id in twins, f"{item_id} is not found by its own vector"
    return records


def ratings_snapshot(engine: Engine) -> dict[tuple[str, str], tuple[int, float]]:
    """Every rating as stored in SQL: (user, item) -> (value, time)."""
    return {(r.user, r.item): (r.value, r.at) for r in engine.ratings.all_ratings()}


@pytest.fixture
def consistent():
    """``consistent(engine, expected_ids=None)``: the store check above, as a fixture."""
    return check_store
