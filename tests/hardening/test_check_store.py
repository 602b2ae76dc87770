"""The store check itself must catch what it is there to catch."""

import pytest

from tests.conftest import SMALL_CATALOG
from tests.hardening.conftest import check_store


def test_a_whole_catalog_passes_and_a_missing_or_extra_id_fails(loaded_engine):
    ids = {item_id for item_id, _, _ in SMALL_CATALOG}
    assert set(check_store(loaded_engine, ids)) == ids
    with pytest.raises(AssertionError, match="missing"):
        check_store(loaded_engine, ids | {"ghost"})
    with pytest.raises(AssertionError, match="unexpected"):
        check_store(loaded_engine, ids - {"oak-table"})


def test_a_half_written_record_fails(loaded_engine):
    loaded_engine.catalog.dense._collection.update(ids=["oak-table"], metadatas=[{"content_hash": "x", "record": "{"}])
    with pytest.raises(ValueError):  # pydantic ValidationError
        check_store(loaded_engine)
