"""Ids that differ only by Unicode normalisation are one id (issue "Trust", hole 8).

"Cafe" + U+0301 (an e and a combining accent, as macOS writes file names) and "Café" look the
same and were two items and two shoppers. Ids are put in NFC wherever they come in: catalog rows
and folder names at ingest, and every id the engine, the tools and the CLI are given. A store
written before holds ids as they were given; lookups find those too. Every refused id names the
rule it broke. Real engine, real Chroma and SQL stores, real catalog files.
"""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.cli import main
from vlm4rec_agent.tools import ShopTools

from .conftest import check_store
from .test_bad_catalogs import BLUE, RED, jsonl, photo

NFC = "Caf\u00e9-chair"  # é as one character
NFD = "Cafe\u0301-chair"  # e, then a combining acute accent
USER_NFC, USER_NFD = "Jos\u00e9", "Jose\u0301"
RULE = "item ids are printable text of at most 256 characters"


@pytest.fixture
def cafe(engine, tmp_path):
    folder = tmp_path / "cafe"
    photo(folder / "a.jpg", RED), photo(folder / "b.jpg", BLUE)
    catalog = jsonl(
        folder / "items.jsonl",
        [
            {"id": NFD, "title": "Café chair", "image": "a.jpg"},
            {"id": NFC, "title": "Another chair", "image": "b.jpg"},  # the same id, composed
            {"id": "stool", "title": "Stool", "image": "b.jpg"},
        ],
    )
    return engine, catalog


def test_a_decomposed_row_is_stored_in_nfc_and_a_second_form_is_a_duplicate(cafe):
    engine, catalog = cafe
    report = engine.ingest(catalog)
    assert (report.added, report.notes) == (2, [])
    assert [str(p) for p in report.skipped] == [
        f"line 2 (item {NFC}): duplicate id (first seen on line 1, written in another Unicode form: the same id "
        "once normalised (NFC)); kept the first"
    ]
    check_store(engine, {NFC, "stool"})
    again = engine.ingest(catalog)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


def test_every_face_finds_the_item_and_the_shopper_by_either_form(cafe):
    engine, catalog = cafe
    engine.ingest(catalog)
    shop = ShopTools(engine)
    for form in (NFC, NFD):
        assert engine.get_item(form).id == NFC and engine.get_item(form).title == "Café chair"
        assert [r.item.id for r in engine.similar(item_id=form, k=3)] == ["stool"]  # never itself
    shop.like_item(USER_NFD, NFD)
    engine.like(USER_NFC, "stool")
    assert engine.ratings.profile(USER_NFC).liked == [NFC, "stool"]  # one shopper, the id as stored
    assert engine.ratings.profile(USER_NFD).is_empty
    assert [i.id for i in shop.show_profile(USER_NFD).liked] == [NFC, "stool"]
    assert shop.explain_item(USER_NFD, NFD).id == NFC
    assert [i.id for i in engine.forget(USER_NFD, NFD).liked] == ["stool"]
    assert shop.reset_profile(USER_NFD).removed == 1 and engine.ratings.count() == 0


def test_group_and_interaction_files_name_items_in_either_form(cafe, tmp_path):
    from vlm4rec_agent.evaluation.data import read_interactions

    engine, catalog = cafe
    engine.ingest(catalog)
    groups = jsonl(tmp_path / "rooms.jsonl", [{"id": "room-1", "items": [NFD, "stool"]}])
    assert engine.add_groups(groups).unknown_items == 0  # the decomposed id is the stored item
    interactions = tmp_path / "likes.csv"
    interactions.write_text(f"user,item\nann,{NFD}\nann,stool\n", "utf-8")
    assert read_interactions(interactions, {NFC: 0, "stool": 1}).users[0].items == (0, 1)


def test_the_cli_takes_either_form(tmp_path, monkeypatch, model_cache, encoder, capsys):
    folder = tmp_path / "cafe"
    photo(folder / "a.jpg", RED)
    catalog = jsonl(folder / "items.jsonl", [{"id": NFD, "title": "Café chair", "image": "a.jpg"}])
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    assert main(["ingest", str(catalog)]) == 0
    assert main(["like", NFD, "--user", USER_NFD]) == 0
    capsys.readouterr()
    assert main(["show", NFC, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == NFC
    assert main(["profile", "--user", USER_NFC, "--json"]) == 0
    profile = json.loads(capsys.readouterr().out)
    assert profile["user"] == USER_NFC and [i["id"] for i in profile["liked"]] == [NFC]


def test_a_store_written_before_ids_were_normalised_finds_its_decomposed_ids(engine, tmp_path):
    folder = tmp_path / "old"
    photo(folder / "a.jpg", RED), photo(folder / "b.jpg", BLUE)
    catalog = jsonl(
        folder / "items.jsonl",
        [{"id": "chair", "title": "Café chair", "image": "a.jpg"}, {"id": "stool", "title": "Stool", "image": "b.jpg"}],
    )
    engine.ingest(catalog)
    # as an older version stored a decomposed id (it took ids as written) and a like of it
    store = engine.catalog
    found = store.get(["chair"], with_vectors=True)["chair"]
    store.upsert([found.item.model_copy(update={"id": NFD})], found.vector[None, :], ["Café chair"], str(catalog))
    store.delete(["chair"])
    engine.ratings.rate(USER_NFD, NFD, 1)

    for form in (NFC, NFD):
        assert engine.get_item(form).id == NFD
        assert [r.item.id for r in engine.similar(item_id=form, k=3)] == ["stool"]
    view = engine.profile(USER_NFC)  # the shopper typed in NFC is the one stored decomposed
    assert view.user == USER_NFD and [i.id for i in view.liked] == [NFD]
    engine.like(USER_NFC, "stool")
    assert engine.ratings.profile(USER_NFD).liked == [NFD, "stool"] and engine.ratings.profile(USER_NFC).is_empty
    assert engine.explain(USER_NFC, NFC).item.id == NFD
    assert [i.id for i in engine.forget(USER_NFC, NFC).liked] == ["stool"]
    assert engine.ratings.profile(USER_NFD).liked == ["stool"]


def test_a_store_written_before_keeps_one_item_when_its_catalog_is_ingested_again(engine, tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "Caf\u00e9.jpg", RED), photo(folder / "stool.jpg", BLUE)
    engine.ingest(folder)
    # as an older version stored a Mac folder: the item under its decomposed name, and a like of it
    store, name = engine.catalog, "Caf\u00e9"
    found = store.get([name], with_vectors=True)[name]
    store.upsert([found.item.model_copy(update={"id": "Cafe\u0301"})], found.vector[None, :], ["x"], str(folder))
    store.delete([name])
    engine.ratings.rate("ann", "Cafe\u0301", 1)

    again = engine.ingest(folder, prune=True)  # the folder's name, read in NFC, is that stored item
    assert (again.added, again.unchanged, again.pruned) == (0, 2, 0)
    check_store(engine, {"Cafe\u0301", "stool"})
    photo(folder / "Caf\u00e9.jpg", BLUE)  # a new photo: the same item is updated, not a second one made
    assert engine.ingest(folder).updated == 1
    check_store(engine, {"Cafe\u0301", "stool"})
    assert [i.id for i in engine.profile("ann").liked] == ["Cafe\u0301"]


def test_a_folder_catalog_names_its_items_in_nfc(engine, tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "Cafe\u0301.jpg", RED)  # as a Mac writes the name
    photo(folder / "Caf\u00e9.png", BLUE)  # the same name, composed
    photo(folder / "lamp\x01.jpg", BLUE)  # a control character in a file name
    report = engine.ingest(folder)
    assert report.added == 1 and engine.get_item("Caf\u00e9").title == "Cafe\u0301"
    assert {p.item_id: p.reason for p in report.skipped} == {
        "Caf\u00e9": "duplicate id: Cafe\u0301.jpg has the same name once normalised (NFC); kept that one",
        None: f"its id 'lamp\\x01' contains a control character (U+0001); {RULE} (rename the file)",
    }
    check_store(engine, {"Caf\u00e9"})


def test_catalog_rows_whose_id_breaks_the_rule_name_it(engine, tmp_path):
    folder = tmp_path / "bad-ids"
    photo(folder / "a.jpg", RED)
    catalog = jsonl(
        folder / "items.jsonl",
        [
            {"id": "ok", "image": "a.jpg"},
            {"id": "a\u0000b", "image": "a.jpg"},
            {"id": "x" * 300, "image": "a.jpg"},
            {"id": "", "image": "a.jpg"},
            {"id": "zero\u200bwidth", "image": "a.jpg"},
        ],
    )
    report = engine.ingest(catalog)
    assert report.added == 1
    assert [str(p) for p in report.skipped] == [
        f"line 2: id 'a\\x00b' contains a control character (U+0000); {RULE} (fix it in the file)",
        f"line 3: id '{'x' * 40}'… is 300 characters long; {RULE} (fix it in the file)",
        f"line 4: empty id in column 'id'; every row needs one ({RULE})",
        f"line 5: id 'zero\\u200bwidth' contains an invisible formatting character (U+200B zero width space); "
        f"{RULE} (fix it in the file)",
    ]
    check_store(engine, {"ok"})
