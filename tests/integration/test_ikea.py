"""200 real IKEA products: ingest, search, like, recommend, restart, re-ingest.

Reads ../shared/data (skipped with the reason where it is absent). The photos are IKEA's and
may be used for non-commercial research only; nothing of them is copied into the repository.
"""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
N_ITEMS = 200


@pytest.fixture(scope="module")
def ikea(shared_data, tmp_path_factory, model_cache, encoder, grounder):
    settings = Settings(home=tmp_path_factory.mktemp("ikea-home"), model_cache=model_cache)
    engine = Engine(settings, encoder=encoder, grounder=grounder)
    report = engine.ingest(shared_data / "ikea" / "items.jsonl", limit=N_ITEMS)
    return engine, report, settings


@pytest.fixture(scope="module")
def catalog_rows(shared_data):
    rows = [json.loads(line) for line in (shared_data / "ikea" / "items.jsonl").open()]
    return {r["id"]: r for r in rows[:N_ITEMS]}


def test_ingest_stores_every_item(ikea):
    engine, report, _ = ikea
    assert report.added == N_ITEMS and report.skipped == []
    assert engine.stats().items == N_ITEMS


def test_search_for_a_lamp_returns_lamps(ikea, catalog_rows):
    engine, _, _ = ikea
    results = engine.search("white minimalist bedside lamp", k=10)
    lamp_types = [catalog_rows[r.item.id]["type"] for r in results]
    assert sum("lamp" in t.lower() or "light" in t.lower() for t in lamp_types) >= 8, lamp_types
    assert all(r.explanation.text for r in results)
    assert any(reason.value == "lamp" for reason in results[0].explanation.reasons)


def test_like_then_recommend_follows_the_profile(ikea, catalog_rows):
    engine, _, _ = ikea
    rugs = [i for i, r in catalog_rows.items() if r["type"].startswith("Rug")][:3]
    assert len(rugs) == 3
    for item_id in rugs[:2]:
        engine.like("alice", item_id)
    results = engine.recommend("alice", k=10)
    assert not {r.item.id for r in results} & set(rugs[:2])
    types = [catalog_rows[r.item.id]["type"] for r in results]
    assert rugs[2] in [r.item.id for r in results] or sum(t.startswith("Rug") for t in types) >= 3, types
    assert "you liked" in results[0].explanation.text


def test_restart_finds_the_data_and_reingest_adds_nothing(ikea, shared_data, encoder, grounder):
    engine, _, settings = ikea
    engine.like("bob", next(iter(engine.search("bed", k=1))).item.id)
    restarted = Engine(settings, encoder=encoder, grounder=grounder)
    assert restarted.stats().items == N_ITEMS
    assert len(restarted.profile("bob").liked) == 1
    again = restarted.ingest(shared_data / "ikea" / "items.jsonl", limit=N_ITEMS)
    assert (again.added, again.updated, again.unchanged) == (0, 0, N_ITEMS)
    assert restarted.stats().items == N_ITEMS
