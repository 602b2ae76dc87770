"""The same id in two catalog files (issue "Trust", hole 7).

A second file's row with an id that the first file's item has replaced that item, silently, and a
shopper's like of it then pointed at a different product. Now the stored item is kept and the
row is skipped with a note naming the file that has the id, unless the ingest is told to replace
(``--replace``). Re-ingesting the same file still updates its items. Real engine, real Chroma and
SQL stores, real catalog files and folders.
"""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.cli import main

from .conftest import check_store
from .test_bad_catalogs import BLUE, RED, jsonl, photo

GREEN = (50, 150, 60)
HINT = "kept that one (ingest with --replace to take this row instead)"


@pytest.fixture
def rooms(tmp_path, monkeypatch):
    """rooms/a.jsonl (chair, lamp) and rooms/b.jsonl (another chair, a rug), photos beside them."""
    monkeypatch.chdir(tmp_path)  # messages name the files relative to the current folder
    folder = tmp_path / "rooms"
    photo(folder / "oak.jpg", RED), photo(folder / "lamp.jpg", BLUE), photo(folder / "pine.jpg", GREEN)
    photo(folder / "rug.jpg", BLUE)
    a = jsonl(
        folder / "a.jsonl",
        [
            {"id": "chair", "title": "Oak chair", "image": "oak.jpg"},
            {"id": "lamp", "title": "Lamp", "image": "lamp.jpg"},
        ],
    )
    b = jsonl(
        folder / "b.jsonl",
        [
            {"id": "chair", "title": "Pine chair", "image": "pine.jpg"},
            {"id": "rug", "title": "Rug", "image": "rug.jpg"},
        ],
    )
    return a, b


def test_a_second_file_does_not_replace_the_first_files_item_and_says_which_file_has_it(engine, rooms):
    a, b = rooms
    assert engine.ingest(a).added == 2
    engine.like("ann", "chair")

    report = engine.ingest(b)
    assert (report.added, report.updated, report.seen) == (1, 0, 2)
    assert [str(p) for p in report.skipped] == [
        f"line 1 (item chair): id 'chair' is already in the catalog from rooms/a.jsonl; {HINT}"
    ]
    assert "1 added, 0 updated, 0 unchanged, 1 skipped" in report.summary()
    assert engine.get_item("chair").title == "Oak chair"
    assert [i.title for i in engine.profile("ann").liked] == ["Oak chair"]  # the like means what it meant
    assert sorted(engine.catalog.ids_from(str(a.resolve()))) == ["chair", "lamp"]
    assert engine.catalog.ids_from(str(b.resolve())) == ["rug"]
    check_store(engine, {"chair", "lamp", "rug"})

    again = engine.ingest(b, prune=True)  # nothing of the first file is pruned through the second
    assert (again.unchanged, again.pruned, len(again.skipped)) == (1, 0, 1)
    assert engine.get_item("chair").title == "Oak chair"


def test_the_same_file_ingested_again_still_updates_its_own_items(engine, rooms):
    a, b = rooms
    engine.ingest(a), engine.ingest(b)
    a.write_text(a.read_text().replace("Oak chair", "Oiled oak chair"))
    report = engine.ingest(a)
    assert (report.added, report.updated, report.unchanged, report.skipped) == (0, 1, 1, [])
    assert engine.get_item("chair").title == "Oiled oak chair"


def test_replace_takes_the_row_and_says_whose_item_it_replaced(engine, rooms):
    a, b = rooms
    engine.ingest(a)
    engine.like("ann", "chair")
    report = engine.ingest(b, replace=True)
    assert (report.added, report.updated, report.skipped) == (1, 1, [])
    assert [str(p) for p in report.notes] == [
        "line 1 (item chair): id 'chair' was in the catalog from rooms/a.jsonl; replaced by this row (--replace)"
    ]
    assert engine.get_item("chair").title == "Pine chair"
    assert sorted(engine.catalog.ids_from(str(b.resolve()))) == ["chair", "rug"]
    # now the second file has it, and the first one's row is the one left out
    back = engine.ingest(a)
    assert [str(p) for p in back.skipped] == [
        f"line 1 (item chair): id 'chair' is already in the catalog from rooms/b.jsonl; {HINT}"
    ]
    assert engine.get_item("chair").title == "Pine chair"
    check_store(engine, {"chair", "lamp", "rug"})


def test_an_unchanged_row_of_another_file_is_left_to_that_file_too(engine, rooms, tmp_path):
    a, _ = rooms
    engine.ingest(a)
    copy = jsonl(tmp_path / "rooms" / "copy.jsonl", [{"id": "chair", "title": "Oak chair", "image": "oak.jpg"}])
    report = engine.ingest(copy)  # the very same product: nothing lost either way, but its file stays a.jsonl
    assert report.stored == 0 and [p.item_id for p in report.skipped] == ["chair"]
    assert sorted(engine.catalog.ids_from(str(a.resolve()))) == ["chair", "lamp"]
    moved = engine.ingest(copy, replace=True)  # the item moved to another file: say so once
    assert (moved.unchanged, moved.skipped, len(moved.notes)) == (1, [], 1)
    assert engine.catalog.ids_from(str(copy.resolve())) == ["chair"]


def test_a_folder_catalog_is_a_catalog_file_too(engine, rooms, tmp_path):
    a, _ = rooms
    photos = tmp_path / "photos"
    photo(photos / "chair.jpg", GREEN), photo(photos / "stool.jpg", RED)
    assert engine.ingest(photos).added == 2
    report = engine.ingest(a)
    assert report.added == 1 and [str(p) for p in report.skipped] == [
        f"line 1 (item chair): id 'chair' is already in the catalog from photos; {HINT}"
    ]
    from_folder = engine.ingest(photos)  # and the other way round: the folder's own items update as before
    assert (from_folder.unchanged, from_folder.skipped) == (2, [])


def test_an_item_stored_before_files_were_recorded_counts_as_from_an_unknown_file(engine, rooms):
    a, b = rooms
    engine.ingest(a)
    index = engine.catalog
    # as an older version stored them: no catalog file recorded
    index.dense._collection.update(ids=["chair", "lamp"], metadatas=[{"source": "", "has_source": 0}] * 2)
    report = engine.ingest(b)
    assert [str(p) for p in report.skipped] == [
        "line 1 (item chair): id 'chair' is already in the catalog from an unknown file (stored before catalog "
        f"files were recorded); {HINT}"
    ]
    assert engine.get_item("chair").title == "Oak chair"
    same = engine.ingest(a)  # its own rows, unchanged: the file takes them as its own (nothing changes)
    assert (same.unchanged, same.skipped, index.count_without_source()) == (2, [], 0)


def test_the_cli_names_the_file_and_takes_replace(tmp_path, rooms, monkeypatch, model_cache, encoder, capsys):
    a, b = rooms
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    assert main(["ingest", str(a)]) == 0
    capsys.readouterr()
    assert main(["ingest", str(b)]) == 0
    out = capsys.readouterr().out
    assert f"skipped 1:\n  line 1 (item chair): id 'chair' is already in the catalog from rooms/a.jsonl; {HINT}" in out
    assert main(["ingest", str(b), "--replace", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["updated"], data["skipped"]) == (1, [])
    assert data["notes"] == [
        {
            "where": "line 1",
            "reason": "id 'chair' was in the catalog from rooms/a.jsonl; replaced by this row (--replace)",
        }
    ]
    assert main(["show", "chair", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Pine chair"


def test_a_background_ingest_keeps_the_first_unless_told(engine, rooms):
    a, b = rooms
    engine.ingest(a)
    job = engine.start_ingest(b)  # what the app's --catalog runs
    assert job.wait(120) and [p.item_id for p in job.report.skipped] == ["chair"]
    assert engine.get_item("chair").title == "Oak chair"
    job = engine.start_ingest(b, replace=True)
    assert job.wait(120) and job.report.updated == 1
    assert engine.get_item("chair").title == "Pine chair"
