"""Ratings that earlier versions kept in Chroma move into SQL on first open, once, losing nothing.

The main case opens a store written by the code of commit 1d3c6b3 (``data/``, made as its README
says) with today's Engine.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from chroma_server import ChromaServer, chroma_command
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.store import SqlRatingStore, open_client
from vlm4rec_agent.store.chroma_migration import chroma_source, legacy_rating, migrate_chroma_ratings

DATA = Path(__file__).parent / "data"
LEGACY = json.loads((DATA / "legacy-ratings.json").read_text("utf-8"))
MIGRATION_LOG = "vlm4rec_agent.store.chroma_migration"


@pytest.fixture
def legacy_home(tmp_path) -> Path:
    with tarfile.open(DATA / "legacy-store-1d3c6b3.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / "home"


def no_chroma():
    raise AssertionError("Chroma was opened")


def sql_ratings(store: SqlRatingStore) -> dict[tuple[str, str], tuple[int, float]]:
    return {(r.user, r.item): (r.value, r.at) for r in store.all_ratings()}


def moved_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == MIGRATION_LOG and r.getMessage().startswith("moved")]


def test_a_store_written_by_the_chroma_era_code_moves_into_sql_once_and_loses_nothing(legacy_home, model_cache, caplog):
    settings = Settings(home=legacy_home, model_cache=model_cache)
    assert not settings.ratings_path.exists()
    alice_oak = next(r for r in LEGACY["records"] if r["id"] == json.dumps(["alice", "oak-table"]))
    # SQL ratings made before the move: a later one is kept, an earlier one gives way.
    early = SqlRatingStore.open(settings.ratings_database_url, "catalog")
    early.rate("alice", "oak-table", -1)  # now: later than the Chroma-era like
    early._now = lambda: 1.0  # long ago: earlier than bob's Chroma-era like of the lamp
    early.rate("bob", "white-lamp", -1)
    early.close()

    caplog.set_level(logging.INFO, logger=MIGRATION_LOG)
    engine = Engine(settings)
    store = engine.ratings
    [line] = moved_lines(caplog)
    assert (
        line.startswith("moved 7 likes and dislikes of catalog 'catalog' from Chroma") and "8 found, 1 already" in line
    )

    stored = sql_ratings(store)
    assert len(stored) == len(LEGACY["records"]) == 8
    for record in LEGACY["records"]:
        key = (record["user"], record["item"])
        if record is alice_oak:
            assert stored[key][0] == -1 and stored[key][1] > record["at"]  # the later SQL rating stayed
        else:
            assert stored[key] == (record["value"], record["at"]), key  # value and time, exactly
    expected = {user: dict(p) for user, p in LEGACY["profiles"].items()}
    expected["alice"] = {
        "liked": [i for i in expected["alice"]["liked"] if i != "oak-table"],
        "disliked": ["oak-table"],
    }
    for user, profile in expected.items():
        assert store.profile(user).model_dump(include={"liked", "disliked"}) == profile, user
    view = engine.profile("ünïcødé ✓")  # today's engine reads the old catalog too
    assert [i.id for i in view.liked] == ["grey-sofa"] and [i.id for i in view.disliked] == ["oak-table"]
    assert engine.stats().users == 3 and engine.stats().ratings == 8

    record = store.import_record(chroma_source(settings))
    assert (record.found, record.imported, record.skipped, record.unusable) == (8, 7, 1, 0)
    assert record.source_collection == "catalog__ratings" and record.source_id
    # The Chroma collection is left as it was.
    old = open_client(settings).get_collection("catalog__ratings", embedding_function=None)
    assert old.count() == 8 and sorted(old.get()["ids"]) == sorted(r["id"] for r in LEGACY["records"])

    # A forgotten rating stays forgotten: a later open neither moves it again nor opens Chroma to look.
    engine.forget("bob", "white-lamp")
    caplog.clear()
    again = Engine(settings)
    assert again.ratings.profile("bob").liked == [] and again._client.built is None and not moved_lines(caplog)
    assert migrate_chroma_ratings(again.ratings, settings, no_chroma) is None


def test_a_moved_home_is_recognised_and_not_moved_again(legacy_home, tmp_path, model_cache, caplog):
    engine = Engine(Settings(home=legacy_home, model_cache=model_cache))
    engine.forget("alice", "white-lamp")
    engine.ratings.close()
    moved = shutil.copytree(legacy_home, tmp_path / "elsewhere")
    caplog.set_level(logging.INFO, logger=MIGRATION_LOG)
    settings = Settings(home=moved, model_cache=model_cache)
    store = Engine(settings).ratings
    assert "white-lamp" not in store.profile("alice").liked and not moved_lines(caplog)
    assert store.import_record(chroma_source(settings)).imported == 0  # recorded: the next open does not look


def test_no_chroma_folder_means_nothing_to_move_and_no_chroma_opened(tmp_path):
    settings = Settings(home=tmp_path / "home")
    engine = Engine(settings)
    engine.ratings.rate("ann", "a", 1)
    assert engine._client.built is None and not settings.chroma_path.exists()
    assert engine.ratings.import_record(chroma_source(settings)) is None


def test_a_chroma_store_without_ratings_is_looked_at_once(tmp_path):
    settings = Settings(home=tmp_path / "home")
    open_client(settings).get_or_create_collection("catalog", embedding_function=None)
    store = SqlRatingStore.open(settings.ratings_database_url, "catalog")
    record = migrate_chroma_ratings(store, settings, lambda: open_client(settings))
    assert (record.found, record.imported, record.source_id) == (0, 0, None)
    assert migrate_chroma_ratings(store, settings, no_chroma) is None
    store.close()


def test_records_that_are_not_ratings_are_counted_not_moved():
    assert legacy_rating('["a", "b"]', {"user": "a", "item": "b", "value": -1, "at": 5.0}).value == -1
    assert legacy_rating('["a", "b"]', {"value": 1}).user == "a"  # user and item from the record id
    for bad in [{"user": "a", "item": "b", "value": 0}, {"user": "a", "item": "b"}, {"value": 1, "at": "x"}]:
        assert legacy_rating("not json", bad) is None
    assert legacy_rating('["a", "b"]', {"value": 1, "at": "yesterday"}) is None
    assert legacy_rating(json.dumps(["x" * 200, "b"]), {"value": 1}) is None  # longer than a user id may be


@pytest.mark.slow
def test_ratings_on_a_chroma_server_move_once_for_every_process(tmp_path, caplog):
    if chroma_command() is None:
        pytest.skip("the `chroma` command is not installed")
    with ChromaServer(tmp_path / "server-data") as server:
        # Written as the code of 1d3c6b3 wrote them (store/ratings.py there).
        client = chromadb.HttpClient(
            host="127.0.0.1", port=server.port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        old = client.get_or_create_collection("shop__ratings", embedding_function=None)
        made = [("ann", "a", 1, 100.0), ("ann", "b", -1, 101.0), ("bob", "a", 1, 102.0)]
        old.upsert(
            ids=[json.dumps([u, i], ensure_ascii=False) for u, i, _, _ in made],
            embeddings=[[0.0]] * len(made),
            metadatas=[{"user": u, "item": i, "value": v, "at": at} for u, i, v, at in made],
        )
        shared = f"sqlite:///{(tmp_path / 'shoppers.sqlite').as_posix()}"
        caplog.set_level(logging.INFO, logger=MIGRATION_LOG)
        for n in range(2):  # two processes' engines, each with its own home, one ratings database
            settings = Settings(home=tmp_path / f"home-{n}", collection="shop", chroma_host="127.0.0.1",
                                chroma_port=server.port, ratings_url=shared)  # fmt: skip
            store = Engine(settings).ratings
            assert store.profile("ann").model_dump(include={"liked", "disliked"}) == {"liked": ["a"], "disliked": ["b"]}
            assert store.count_users() == 2
            store.close()
        assert len(moved_lines(caplog)) == 1 and old.count() == 3
