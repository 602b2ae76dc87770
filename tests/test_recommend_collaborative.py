"""Recommendations that learn from other shoppers and imported groups, end to end: the real
Chroma, SQL store, encoder and grounder, the real CLI."""

import json
import time

import pytest

from vlm4rec_agent.cli import main
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError, NotFoundError


def together_of(result):
    return {(t.source, t.item_id): t.count for t in result.explanation.together}


def test_items_liked_together_by_others_are_recommended_with_the_real_counts(loaded_engine, settings, encoder):
    engine = loaded_engine
    for shopper in ("s1", "s2", "s3"):  # a vase has nothing in common with a dining table but shoppers
        engine.like(shopper, "oak-table")
        engine.like(shopper, "green-vase")
    engine.like("s4", "oak-table")
    engine.like("s4", "black-boots")
    engine.like("ann", "oak-table")
    results = engine.recommend("ann", k=9)
    vase = next(r for r in results if r.item.id == "green-vase")
    assert together_of(vase) == {("shoppers", "oak-table"): 3}
    assert "Liked together with Dining table by 3 shoppers." in vase.explanation.text
    with Engine(settings.model_copy(update={"scorer": "softmax"}), encoder=encoder) as content_only:
        alone = {r.item.id: r.score for r in content_only.recommend("ann", k=9)}
    gain = {r.item.id: r.score - alone[r.item.id] for r in results}
    # What shoppers liked together adds to the content score, more where more of them did.
    assert gain["green-vase"] > gain["black-boots"] > 0
    assert gain["oak-chair"] == pytest.approx(0, abs=1e-6)
    # Every count an explanation gives is the store's own (the SQL co-occurrence query).
    for result in results:
        for (_source, liked), count in together_of(result).items():
            assert count == engine.ratings.liked_together([result.item.id])[result.item.id][liked]


def test_imported_rooms_count_as_rooms(loaded_engine, tmp_path, capsys):
    rooms = tmp_path / "rooms.jsonl"
    lines = [{"id": f"room-{n}", "items": ["oak-table", "white-lamp", "no-such-item"]} for n in range(2)]
    lines.append({"id": "room-2", "items": ["grey-sofa", "white-lamp"]})
    rooms.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    added = loaded_engine.add_groups(rooms, noun="room")
    assert (added.set.name, added.set.groups, added.set.items, added.unknown_items) == ("rooms", 3, 3, 2)
    loaded_engine.like("ann", "oak-table")
    lamp = next(r for r in loaded_engine.recommend("ann", k=9) if r.item.id == "white-lamp")
    assert together_of(lamp) == {("rooms", "oak-table"): 2}
    assert "In 2 rooms with Dining table." in lamp.explanation.text
    loaded_engine.remove_groups("rooms")
    without = next(r for r in loaded_engine.recommend("ann", k=9) if r.item.id == "white-lamp")
    assert without.explanation.together == [] and without.score < lamp.score


def test_a_new_item_nobody_liked_can_be_recommended(loaded_engine, small_catalog, catalog_writer, draw):
    engine = loaded_engine
    for shopper in ("s1", "s2"):
        engine.like(shopper, "oak-table")
        engine.like(shopper, "grey-sofa")
    engine.like("ann", "oak-chair")
    engine.recommend("ann", k=3)  # the model is built before the new item exists
    draw(small_catalog.parent / "images" / "oak-stool.jpg", (155, 112, 72))
    row = {"id": "oak-stool", "title": "Stool", "description": "Oak stool, scandinavian style, for dining.",
           "image": "images/oak-stool.jpg"}  # fmt: skip
    small_catalog.write_text(small_catalog.read_text() + json.dumps(row) + "\n")
    engine.ingest(small_catalog)
    ids = [r.item.id for r in engine.recommend("ann", k=3)]
    assert "oak-stool" in ids  # on content alone: no shopper and no group holds it


def test_other_shoppers_likes_reach_recommendations_within_the_refresh_time(settings, encoder, grounder, small_catalog):
    with Engine(
        settings.model_copy(update={"collaborative_refresh_s": 0.05}), encoder=encoder, grounder=grounder
    ) as engine:
        engine.ingest(small_catalog)
        engine.like("ann", "navy-blazer")
        before = engine.recommend("ann", k=9)
        assert all(not r.explanation.together for r in before)
        engine.like("bob", "navy-blazer")
        engine.like("bob", "green-vase")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.1)
            vase = next(r for r in engine.recommend("ann", k=9) if r.item.id == "green-vase")
            if vase.explanation.together:
                break
        assert together_of(vase) == {("shoppers", "navy-blazer"): 1}


def test_content_only_scorers_stay_selectable(settings, encoder, grounder, small_catalog):
    for name in ("mean", "softmax"):
        with Engine(settings.model_copy(update={"scorer": name}), encoder=encoder, grounder=grounder) as engine:
            engine.ingest(small_catalog)
            engine.like("s1", "oak-table")
            engine.like("s1", "green-vase")
            engine.like("ann", "oak-table")
            results = engine.recommend("ann", k=3)
            assert all(not r.explanation.together for r in results)
            assert results[0].item.id == "oak-chair"  # the content neighbour, not what s1 liked


def test_groups_command_adds_lists_and_removes(settings, small_catalog, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VLM4REC_HOME", str(settings.home))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(settings.model_cache))
    assert main(["ingest", str(small_catalog), "--no-progress"]) == 0
    outfits = tmp_path / "looks.jsonl"
    outfits.write_text(json.dumps({"id": "look-1", "items": ["red-dress", "black-boots"]}) + "\n")
    capsys.readouterr()
    assert main(["groups", "add", str(outfits), "--noun", "outfit"]) == 0
    assert "added 1 outfits with 2 items as 'looks'" in capsys.readouterr().out
    assert main(["groups", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["noun"], s["groups"], s["items"]) for s in listed] == [("looks", "outfit", 1, 2)]
    assert main(["groups", "remove", "looks"]) == 0
    assert main(["groups", "remove", "looks"]) == 2  # not found
    assert "no group set named 'looks'" in capsys.readouterr().err


def test_group_files_that_teach_nothing_are_refused(loaded_engine, tmp_path):
    useless = tmp_path / "useless.jsonl"
    useless.write_text(json.dumps({"id": "x", "items": ["oak-table", "not-here"]}) + "\n")
    with pytest.raises(InvalidInputError, match="no group holds two items of this catalog"):
        loaded_engine.add_groups(useless)
    with pytest.raises(InvalidInputError, match="not one word"):
        loaded_engine.add_groups(useless, noun="two words")
    with pytest.raises(NotFoundError):
        loaded_engine.add_groups(tmp_path / "missing.jsonl")
    assert loaded_engine.group_sets() == []
