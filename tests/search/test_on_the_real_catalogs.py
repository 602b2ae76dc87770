"""The README's own example queries, and the failures this work began with, on the real catalogs
(../shared/data; skipped, saying why, where it is absent)."""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def real(tmp_path_factory, encoder, grounder, model_cache):
    from ..conftest import SHARED_DATA

    if not (SHARED_DATA / "ikea" / "items.jsonl").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (set VLM4REC_TEST_SHARED_DATA to its folder)")
    engines = {}
    for name, path, limit in (("ikea", "ikea/items.jsonl", 300), ("clothing", "clothing/labels.csv", 400)):
        settings = Settings(home=tmp_path_factory.mktemp(name), model_cache=model_cache)
        engine = Engine(settings, encoder=encoder, grounder=grounder)
        engine.ingest(SHARED_DATA / path, limit=limit)
        engines[name] = engine
    yield engines, SHARED_DATA
    for engine in engines.values():
        engine.close()


def test_show_me_summer_dresses_shows_dresses(real):
    engines, _ = real
    answer = engines["clothing"].search_answer("show me summer dresses", k=6)
    assert [r.item.kind for r in answer.results] == ["Dress"] * 6  # six skirts before this work
    assert all(r.fits for r in answer.results)


def test_a_warm_jacket_for_winter_is_outerwear(real):
    engines, _ = real
    answer = engines["clothing"].search_answer("a warm jacket for winter", k=6)
    assert [r.item.kind for r in answer.results] == ["Outwear"] * 6  # long-sleeve tops before


def test_a_series_name_four_products_carry_finds_all_four(real):
    engines, data = real
    series_of: dict[str, set[str]] = {}
    for line in (data / "ikea" / "items.jsonl").read_text("utf-8").splitlines()[:300]:
        row = json.loads(line)
        for series in row["name"].split(","):  # "GODMORGON,ODENSVIK" is of both series
            series_of.setdefault(series, set()).add(row["id"])
    for series in ("GRUNDTAL", "RIBBA", "FINTORP", "GODMORGON"):
        assert len(series_of[series]) >= 4
        found = [r.item.id for r in engines["ikea"].search_answer(series.lower(), k=4).results]
        assert len(found) == 4 and set(found) <= series_of[series], series  # none of them before this work


def test_the_quick_start_query_finds_lamps(real):
    engines, _ = real
    results = engines["ikea"].search_answer("white minimalist bedside lamp", k=10).results
    assert all(r.item.kind.lower().endswith("lamp") or "lamp" in r.item.kind.lower() for r in results)
    assert all("colour: white" in r.explanation.text for r in results[:5])


@pytest.mark.parametrize("catalog", ["ikea", "clothing"])
def test_gibberish_finds_nothing_on_either_catalog(real, catalog):
    engines, _ = real
    answer = engines[catalog].search_answer("asdfgh qwerty", k=6)
    assert answer.results == [] and "It holds, for example:" in answer.note
