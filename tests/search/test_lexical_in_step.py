"""The lexical index stays in step with the catalog: ingest, update, prune, restart, another process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings

from .conftest import SEARCH_CATALOG, write_search_catalog


def ids(answer) -> list[str]:
    return [r.item.id for r in answer.results]


def _rewrite(catalog, change):
    rows = [json.loads(line) for line in catalog.read_text("utf-8").splitlines()]
    rows = [r for r in (change(dict(r)) for r in rows) if r is not None]
    catalog.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")


def _words_of(engine, word: str) -> set[str]:
    lexical = engine.catalog.lexical
    return {h.id for h in lexical.search(lexical.terms(word), 50)}


@pytest.fixture
def fresh(tmp_path, encoder, grounder, model_cache):
    catalog = write_search_catalog(tmp_path / "catalog")
    settings = Settings(home=tmp_path / "home", model_cache=model_cache)
    with Engine(settings, encoder=encoder, grounder=grounder) as engine:
        engine.ingest(catalog)
        yield engine, catalog, settings


def test_an_update_and_a_prune_reach_the_word_index(fresh):
    engine, catalog, _ = fresh
    assert _words_of(engine, "kallax") == {"kallax-1", "kallax-2", "kallax-3"}

    def change(row):
        if row["id"] == "kallax-3":
            return None  # gone from the file: pruned
        if row["id"] == "kallax-2":
            row["title"] = "EKET · Shelving unit"  # renamed: its old name must no longer find it
        return row

    _rewrite(catalog, change)
    report = engine.ingest(catalog, prune=True)
    assert (report.updated, report.pruned) == (1, 1)
    assert _words_of(engine, "kallax") == {"kallax-1"}
    assert _words_of(engine, "eket") == {"kallax-2"}
    assert engine.catalog.lexical.count() == engine.catalog.count() == len(SEARCH_CATALOG) - 1
    answer = engine.search_answer("kallax", k=3)
    assert ids(answer)[0] == "kallax-1" and "kallax-3" not in ids(answer)
    assert ids(engine.search_answer("eket", k=1)) == ["kallax-2"]


def test_a_changed_type_column_is_searched_by(fresh):
    engine, catalog, _ = fresh

    def change(row):
        if row["id"] == "billy-1":
            row["type"] = "Shelving unit"
        return row

    _rewrite(catalog, change)
    assert engine.ingest(catalog).updated == 1
    assert engine.catalog.get(["billy-1"])["billy-1"].item.kind == "Shelving unit"
    assert "billy-1" in engine.catalog.ids_with("kind_suffixes", "shelving unit")
    assert "shelving unit" in engine.catalog.kind_phrases()


def test_a_lost_or_damaged_word_index_is_rebuilt_on_open(fresh, encoder, grounder):
    engine, catalog, settings = fresh
    folder = settings.lexical_path
    engine.close()
    shutil.rmtree(folder)
    with Engine(settings, encoder=encoder, grounder=grounder) as reopened:
        assert set(ids(reopened.search_answer("kallax", k=3))) == {"kallax-1", "kallax-2", "kallax-3"}
    for file in folder.iterdir():  # damaged: every file overwritten
        if file.is_file():
            file.write_bytes(b"\0garbage")
    with Engine(settings, encoder=encoder, grounder=grounder) as reopened:
        assert reopened.catalog.lexical.count() == len(SEARCH_CATALOG)
        assert set(ids(reopened.search_answer("kallax", k=3))) == {"kallax-1", "kallax-2", "kallax-3"}


def test_a_dropped_catalog_takes_its_words_with_it(fresh):
    engine, catalog, _ = fresh
    engine.catalog.drop()
    assert engine.catalog.lexical.count() == 0


@pytest.mark.slow
def test_another_process_writing_to_the_chroma_server_reaches_this_ones_word_search(
    tmp_path, encoder, grounder, model_cache
):
    from chroma_server import ChromaServer, chroma_command

    if chroma_command() is None:
        pytest.skip("the `chroma` command is not installed")
    catalog = write_search_catalog(tmp_path / "catalog")
    with ChromaServer(tmp_path / "server-data") as server:
        settings = Settings(home=tmp_path / "a", chroma_host="127.0.0.1", chroma_port=server.port,
                            model_cache=model_cache, lexical_sync_s=0.5)  # fmt: skip
        with Engine(settings, encoder=encoder, grounder=grounder) as engine:
            assert engine.ingest(catalog).added == len(SEARCH_CATALOG)
            assert ids(engine.search_answer("eket", k=3)) == []

            # Another process (its own HOME, so its own word index) renames an item and adds one.
            other = tmp_path / "other.jsonl"
            draw_row = json.loads(catalog.read_text("utf-8").splitlines()[0])
            other.write_text(
                json.dumps(
                    {
                        **draw_row,
                        "id": "eket-1",
                        "title": "EKET · Cabinet",
                        "type": "Cabinet",
                        "image": str(catalog.parent / draw_row["image"]),
                    }
                )
                + "\n",  # fmt: skip
                "utf-8",
            )
            env = {**os.environ, "VLM4REC_HOME": str(tmp_path / "b"), "VLM4REC_MODEL_CACHE": str(model_cache),
                   "VLM4REC_CHROMA_HOST": "127.0.0.1", "VLM4REC_CHROMA_PORT": str(server.port)}  # fmt: skip
            done = subprocess.run([sys.executable, "-m", "vlm4rec_agent", "ingest", str(other)], env=env,
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            assert done.returncode == 0, done.stderr

            # Found by meaning at once (the vectors live on the server); by its words after a sync,
            # which the engine runs in the background every lexical_sync_s seconds.
            deadline = time.monotonic() + 30
            while not ids(engine.search_answer("eket", k=3)) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert ids(engine.search_answer("eket", k=3))[0] == "eket-1"
            assert engine.catalog.lexical.count() == engine.catalog.count() == len(SEARCH_CATALOG) + 1
