"""The engine against a real Chroma server (`chroma run`), started and stopped by the test."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest

from chroma_server import ChromaServer, chroma_command, free_port
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import StoreError
from vlm4rec_agent.settings import Settings


@pytest.fixture
def engines():
    """Closes the engines a test opens (their background word-index sync stops with them)."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def chroma_server(tmp_path):
    if chroma_command() is None:
        pytest.skip("the `chroma` command is not installed")
    with ChromaServer(tmp_path / "server-data") as server:
        yield server.port


@pytest.mark.slow
def test_engine_on_a_chroma_server(chroma_server, engines, tmp_path, small_catalog, encoder, grounder, model_cache):
    settings = Settings(
        home=tmp_path / "client-home", chroma_host="127.0.0.1", chroma_port=chroma_server, model_cache=model_cache
    )
    engine = engines.enter_context(Engine(settings, encoder=encoder, grounder=grounder))
    report = engine.ingest(small_catalog)
    assert report.added == 10
    assert not (tmp_path / "client-home" / "chroma").exists()  # nothing embedded: the server holds it

    assert engine.search("red summer dress", k=3)[0].item.id == "red-dress"
    engine.like("alice", "oak-table")

    # A second engine (another process would do the same) sees the catalog and the like: the
    # catalog from the server, the like from the ratings database (here the same HOME's SQLite file).
    other = engines.enter_context(Engine(settings, encoder=encoder, grounder=grounder))
    assert other.stats().items == 10 and other.stats().users == 1
    recommended = [r.item.id for r in other.recommend("alice", k=3)]
    assert recommended[0] == "oak-chair" and "oak-table" not in recommended
    assert other.ingest(small_catalog).unchanged == 10


def test_unreachable_server_is_a_clear_error(tmp_path):
    settings = Settings(home=tmp_path, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match="cannot reach the Chroma server at http://127.0.0.1.*chroma run"):
        Engine(settings).stats()


@pytest.mark.slow
def test_two_processes_share_one_catalog_and_its_likes(
    chroma_server, engines, tmp_path, small_catalog, encoder, grounder, model_cache
):
    import json
    import os

    # Each process has its own HOME; the catalog is on the Chroma server, and shoppers are shared
    # through one ratings database (a SQLite file serves processes of one machine).
    shoppers = f"sqlite:///{(tmp_path / 'shoppers.sqlite').as_posix()}"
    settings = Settings(home=tmp_path / "a", chroma_host="127.0.0.1", chroma_port=chroma_server,
                        model_cache=model_cache, ratings_url=shoppers)  # fmt: skip
    engine = engines.enter_context(Engine(settings, encoder=encoder, grounder=grounder))
    assert engine.ingest(small_catalog).added == 10
    env = {
        **os.environ,
        "VLM4REC_HOME": str(tmp_path / "b"),
        "VLM4REC_MODEL_CACHE": str(model_cache),
        "VLM4REC_CHROMA_HOST": "127.0.0.1",
        "VLM4REC_CHROMA_PORT": str(chroma_server),
        "VLM4REC_RATINGS_URL": shoppers,
    }

    def other_process(*args):
        done = subprocess.run([sys.executable, "-m", "vlm4rec_agent", *args], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    other_process("like", "grey-sofa", "--user", "bob")  # written by another process...
    assert [i.id for i in engine.profile("bob").liked] == ["grey-sofa"]  # ...seen by this one
    engine.like("bob", "oak-table")
    picks = json.loads(other_process("recommend", "--user", "bob", "--json"))
    assert {"grey-sofa", "oak-table"}.isdisjoint(p["id"] for p in picks)  # both likes count there
    stats = json.loads(other_process("stats", "--json"))
    assert (stats["items"], stats["users"], stats["ratings"]) == (10, 1, 2)
    assert not (tmp_path / "a" / "ratings.sqlite").exists() and not (tmp_path / "b" / "ratings.sqlite").exists()
