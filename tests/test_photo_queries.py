"""Photo queries through the real engine: Chroma (both indexes), EfficientNet-Lite0, MiniLM, the basic grounder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.image_encoding import EfficientNetImageEncoder, scene_views
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.store.visual_index import ChromaVisualIndex

from .conftest import SMALL_CATALOG


def test_a_catalogs_own_photo_finds_its_item_first(loaded_engine, small_catalog):
    firsts = {}
    for item_id, _, _ in SMALL_CATALOG:
        match = loaded_engine.match_photo(small_catalog.parent / "images" / f"{item_id}.jpg", k=3)
        firsts[item_id] = match.results[0].item.id
        assert match.visual and "your photo (picture similarity 1.00)" in match.results[0].explanation.text
    assert firsts == {item_id: item_id for item_id, _, _ in SMALL_CATALOG}


def test_words_alone_do_not_find_every_photo_which_is_why_pictures_are_compared(
    tmp_path, model_cache, encoder, grounder, small_catalog
):
    """The same catalog stored with no image vectors: a photo query falls back to its words, and
    misses items the pictures find (the red dress and the red skirt read alike)."""
    engine = Engine(Settings(home=tmp_path / "words", model_cache=model_cache, image_encoder="none"),
                    encoder=encoder, grounder=grounder)  # fmt: skip
    engine.ingest(small_catalog)
    assert engine.catalog.visual is None
    firsts = [
        engine.match_photo(small_catalog.parent / "images" / f"{i}.jpg", k=1).results[0].item.id == i
        for i, _, _ in SMALL_CATALOG
    ]
    assert not engine.match_photo(small_catalog.parent / "images" / "red-dress.jpg").visual
    assert sum(firsts) < len(SMALL_CATALOG)


def test_unchanged_items_get_image_vectors_without_being_grounded_again(
    tmp_path, model_cache, encoder, grounder, small_catalog
):
    home = tmp_path / "home"
    before = Engine(
        Settings(home=home, model_cache=model_cache, image_encoder="none"), encoder=encoder, grounder=grounder
    )
    before.ingest(small_catalog)
    before.close()
    calls = []
    real = grounder.ground
    grounder.ground = lambda inputs: calls.append(len(inputs)) or real(inputs)
    after = Engine(Settings(home=home, model_cache=model_cache), encoder=encoder, grounder=grounder)
    report = after.ingest(small_catalog)
    assert (report.unchanged, report.visual_added, calls) == (10, 10, [])
    assert "10 unchanged given image vectors" in report.summary()
    assert (
        after.catalog.visual.count() == 10
        and after.match_photo(small_catalog.parent / "images" / "red-skirt.jpg").visual
    )
    assert after.ingest(small_catalog).visual_added == 0  # once only


def test_the_same_photo_under_two_ids_is_reported_as_a_likely_duplicate(engine, small_catalog):
    shutil.copy(small_catalog.parent / "images" / "green-vase.jpg", small_catalog.parent / "images" / "vase-copy.jpg")
    with small_catalog.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"id": "vase-copy", "title": "Vase", "image": "images/vase-copy.jpg"}) + "\n")
    report = engine.ingest(small_catalog)
    assert [(a, b) for a, b, _ in report.same_photos] == [("green-vase", "vase-copy")]
    assert report.same_photos[0][2] >= 0.999
    assert "1 pairs of items with the same photo, likely duplicates (green-vase = vase-copy)" in report.summary()
    # alike but different photos (two generated boxes of nearly the same red) are not reported
    assert ("red-dress", "red-skirt") not in {(a, b) for a, b, _ in report.same_photos}


def test_deleting_items_deletes_their_image_vectors(loaded_engine, small_catalog):
    lines = small_catalog.read_text("utf-8").splitlines()
    small_catalog.write_text("\n".join(lines[:-2]) + "\n", "utf-8")
    report = loaded_engine.ingest(small_catalog, prune=True)
    assert report.pruned == 2 and loaded_engine.catalog.visual.count() == 8


def test_each_item_is_scored_by_the_view_of_a_scene_that_shows_it_best(loaded_engine):
    """Views that are two items' own photos find both items first; the first view alone finds one."""
    from vlm4rec_agent.photo_search import rank_photo

    catalog = loaded_engine.catalog
    visual = catalog.visual.vectors(["green-vase", "black-boots"])
    views = np.stack([visual["green-vase"], visual["black-boots"]])
    text = loaded_engine.encoder.encode(["a room"])
    both = rank_photo(catalog, text, views, 2, None, 0.9)
    first_only = rank_photo(catalog, text, views[:1], 2, None, 0.9)
    assert {h.id for h in both} == {"green-vase", "black-boots"} and all(h.visual > 0.999 for h in both)
    assert first_only[0].id == "green-vase" and first_only[1].id != "black-boots"


def test_scene_views_are_the_photo_and_its_corners():
    photo = Image.new("RGB", (100, 50))
    views = scene_views(photo)
    assert views[0] is photo and [v.size for v in views[1:]] == [(60, 30)] * 4 + [(60, 30)]


def test_a_filter_applies_to_the_items_found_by_their_pictures(loaded_engine, small_catalog):
    from vlm4rec_agent.store import Filters

    found = loaded_engine.match_photo(
        small_catalog.parent / "images" / "red-dress.jpg", k=5, filters=Filters(category="lamp")
    ).results
    assert [r.item.id for r in found] == ["white-lamp"]


def test_a_visual_index_of_another_image_encoder_is_not_mixed_in(tmp_path):
    import chromadb

    client = chromadb.PersistentClient(str(tmp_path / "chroma"))
    made = ChromaVisualIndex.open(client, "shop", "encoder-a", dim=3)
    made.upsert(["x"], np.array([[1.0, 0.0, 0.0]]))
    assert ChromaVisualIndex.open(client, "shop", "encoder-b") is None  # reading: left unused
    remade = ChromaVisualIndex.open(client, "shop", "encoder-b", dim=4)  # writing: made again
    assert (remade.encoder_name, remade.dim, remade.count()) == ("encoder-b", 4, 0)


def test_the_image_encoder_and_the_basic_grounder_share_one_forward_pass(monkeypatch, product_image):
    import vlm4rec_agent.grounding.efficientnet_lite as network
    from vlm4rec_agent.grounding.basic import BasicGrounder
    from vlm4rec_agent.grounding.protocol import GroundingInput

    runs = []
    real = network._run
    monkeypatch.setattr(network, "_run", lambda images: runs.append(len(images)) or real(images))
    photo = Image.open(product_image()).convert("RGB")
    BasicGrounder().ground([GroundingInput(image=photo)])
    vector = EfficientNetImageEncoder().encode([photo])
    other = EfficientNetImageEncoder().encode([photo.copy()])  # another object: run again
    assert runs == [1, 1] and np.allclose(vector, other, atol=1e-5)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@pytest.mark.parametrize("bad", ["none", "no-such-encoder"])
def test_image_encoder_settings(tmp_path, bad):
    from vlm4rec_agent.errors import ConfigurationError
    from vlm4rec_agent.image_encoding import make_image_encoder

    settings = Settings(home=tmp_path, image_encoder=bad)
    if bad == "none":
        assert make_image_encoder(settings) is None and Engine(settings).image_encoder is None
    else:
        with pytest.raises(ConfigurationError, match="unknown image encoder 'no-such-encoder'"):
            make_image_encoder(settings)


def test_a_shopper_who_liked_an_item_is_not_recommended_the_same_photo_under_another_id(engine, small_catalog):
    shutil.copy(small_catalog.parent / "images" / "green-vase.jpg", small_catalog.parent / "images" / "vase-copy.jpg")
    with small_catalog.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"id": "vase-copy", "title": "Vase", "description": "Green glass vase.",
                              "image": "images/vase-copy.jpg"}) + "\n")  # fmt: skip
    engine.ingest(small_catalog)
    engine.like("alice", "green-vase")
    found = [r.item.id for r in engine.recommend("alice", k=10)]
    assert "vase-copy" not in found and len(found) == 9  # every other item, but not the copy
    engine.like("bob", "red-dress")
    assert "vase-copy" in [r.item.id for r in engine.recommend("bob", k=10)]
