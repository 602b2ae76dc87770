"""`ingest --prune`: items gone from their catalog file are removed, and nothing else is."""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.errors import InvalidInputError

from .conftest import SMALL_CATALOG, draw_product


def _drop_rows(catalog, ids):
    rows = [line for line in catalog.read_text().splitlines() if json.loads(line)["id"] not in ids]
    catalog.write_text("\n".join(rows) + "\n")


def test_prune_removes_only_the_items_gone_from_that_file_and_keeps_their_likes(loaded_engine, small_catalog, tmp_path):
    other = tmp_path / "other" / "items.jsonl"  # a second catalog file in the same store
    draw_product(other.parent / "images" / "rug.jpg", (120, 40, 160))
    other.parent.mkdir(exist_ok=True)
    other.write_text(json.dumps({"id": "rug", "title": "Rug", "image": "images/rug.jpg"}) + "\n")
    assert loaded_engine.ingest(other).added == 1
    loaded_engine.like("ann", "red-dress")
    loaded_engine.like("ann", "oak-table")

    _drop_rows(small_catalog, {"red-dress", "grey-sofa"})
    report = loaded_engine.ingest(small_catalog, prune=True)
    assert (report.added, report.unchanged, report.pruned, report.unattributed) == (0, 8, 2, 0)
    assert "2 removed (gone from the catalog; their likes are kept)" in report.summary()
    stored = loaded_engine.catalog.get([i for i, _, _ in SMALL_CATALOG] + ["rug"])
    assert set(stored) == {i for i, _, _ in SMALL_CATALOG} - {"red-dress", "grey-sofa"} | {"rug"}
    assert [i.id for i in loaded_engine.profile("ann").liked] == ["oak-table"]  # the gone item is not shown
    assert loaded_engine.ratings.profile("ann").liked == ["red-dress", "oak-table"]  # but its like is kept

    again = loaded_engine.ingest(small_catalog, prune=True)
    assert (again.pruned, again.unchanged) == (0, 8)


def test_a_row_with_a_bad_photo_is_not_taken_for_a_removed_item(loaded_engine, small_catalog):
    (small_catalog.parent / "images" / "red-dress.jpg").write_bytes(b"not a jpeg")
    report = loaded_engine.ingest(small_catalog, prune=True)
    assert report.pruned == 0 and [p.item_id for p in report.skipped] == ["red-dress"]
    assert "red-dress" in loaded_engine.catalog.get(["red-dress"])  # the stored version stays


def test_prune_is_refused_when_rows_cannot_be_read_or_the_catalog_is_cut_short(loaded_engine, small_catalog):
    with pytest.raises(InvalidInputError, match="--prune needs the whole catalog.*without --limit"):
        loaded_engine.ingest(small_catalog, prune=True, limit=3)
    with small_catalog.open("a") as handle:
        handle.write("{this line is not json\n")
    rows = small_catalog.read_text().splitlines()
    small_catalog.write_text("\n".join(rows[1:]) + "\n")  # red-dress gone, and one broken row
    with pytest.raises(InvalidInputError, match=r"--prune refused: 1 row\(s\) of items.jsonl could not be read"):
        loaded_engine.ingest(small_catalog, prune=True)
    assert len(loaded_engine.catalog.get([i for i, _, _ in SMALL_CATALOG])) == 10  # nothing was removed


def test_items_stored_before_sources_were_recorded_get_theirs_on_the_next_ingest(loaded_engine, small_catalog):
    index = loaded_engine.catalog
    ids = [i for i, _, _ in SMALL_CATALOG]
    # as an older version stored them: no catalog file recorded
    index.dense._collection.update(ids=ids, metadatas=[{"source": "", "has_source": 0}] * len(ids))
    assert index.count_without_source() == 10
    report = loaded_engine.ingest(small_catalog)
    assert report.unchanged == 10 and index.count_without_source() == 0
    assert sorted(index.ids_from(str(small_catalog.resolve()))) == sorted(ids)


def test_the_cli_prunes_and_says_how_many(tmp_path, monkeypatch, model_cache, capsys):
    from vlm4rec_agent.cli import main

    from .conftest import write_small_catalog

    catalog = write_small_catalog(tmp_path / "catalog")
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    assert main(["ingest", str(catalog)]) == 0
    _drop_rows(catalog, {"green-vase"})
    capsys.readouterr()
    assert main(["ingest", str(catalog), "--prune", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pruned"] == 1
