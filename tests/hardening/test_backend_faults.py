"""Backends failing under a running app or ingest: the VLM server, then the Chroma server.

Real parts throughout: a real HTTP server on 127.0.0.1 playing the VLM (failing for good, failing
for a moment, or closing its port mid-run), a real `chroma run` server killed and restarted on
the same folder and port, embedded Chroma, the real encoder. What must hold: a clear one-line
error that says what failed and what to do, retries where they help, nothing stored by halves,
no image sent twice, no like lost.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import httpx
import pytest

from chroma_server import ChromaServer, chroma_command
from vlm4rec_agent import cli
from vlm4rec_agent.assistant.conversation import Conversation
from vlm4rec_agent.assistant.dialogue import DialogueManager
from vlm4rec_agent.command_errors import run_reporting_errors
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import StoreError
from vlm4rec_agent.grounding.vlm import GroundingFailed
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.store import connection
from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply
from vlm4rec_agent.tools import ShopTools

from .conftest import check_store

ANSWER = json.dumps(
    {
        "category": "dress",
        "colors": ["red"],
        "materials": ["linen"],
        "style": ["casual"],
        "pattern": ["solid"],
        "occasion": ["beach"],
        "season": ["summer"],
        "description": "A red linen summer dress.",
    }
)
BATCH = 8


def write_catalog(folder: Path, n: int, draw) -> tuple[Path, list[str]]:
    """``n`` generated products whose text names their id (so a fake VLM can tell them apart)."""
    ids, lines = [], []
    for i in range(n):
        item_id = f"item-{i:03d}"
        draw(folder / "images" / f"{item_id}.jpg", (40 + 5 * i % 200, 90, 160), size=64)
        text = f"Summer dress number {item_id} in linen."
        lines.append(
            json.dumps({"id": item_id, "title": "Dress", "description": text, "image": f"images/{item_id}.jpg"})
        )
        ids.append(item_id)
    path = folder / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path, ids


def item_of(request: dict) -> str:
    return re.search(r"item-\d{3}", request["messages"][0]["content"][0]["text"]).group(0)


class Vlm:
    """A fake VLM server with a policy: ``policy(item, attempt)`` -> Reply; counts answers per item."""

    def __init__(self, policy):
        self.policy = policy
        self.attempts: dict[str, int] = {}
        self.answered: list[str] = []  # items answered with 200, in order
        self.lock = threading.Lock()
        self.server = FakeOpenAIServer(self.respond).start()

    def respond(self, request: dict) -> Reply:
        item = item_of(request)
        with self.lock:
            attempt = self.attempts[item] = self.attempts.get(item, 0) + 1
            reply = self.policy(self, item, attempt)
            if reply.status == 200 and not reply.reset:
                self.answered.append(item)
        return reply


@pytest.fixture
def vlm():
    servers = []

    def start(policy) -> Vlm:
        servers.append(Vlm(policy))
        return servers[-1]

    yield start
    for v in servers:
        v.server.stop()


def vlm_env(home: Path, model_cache: Path, url: str) -> dict[str, str]:
    return {
        "VLM4REC_HOME": str(home),
        "VLM4REC_MODEL_CACHE": str(model_cache),
        "VLM4REC_GROUNDER": "openai",
        "VLM4REC_OPENAI_BASE_URL": url,
        "VLM4REC_VLM_MODEL": "fake-vlm",
        "VLM4REC_OPENAI_BACKOFF": "0.01",
        "VLM4REC_OPENAI_MAX_RETRIES": "2",
        "VLM4REC_OPENAI_TIMEOUT": "0.5",
        "VLM4REC_OPENAI_CONCURRENCY": "4",
        "VLM4REC_GROUNDING_BATCH_SIZE": str(BATCH),
    }


def vlm_engine(home: Path, model_cache: Path, url: str, encoder) -> Engine:
    settings = Settings(
        home=home,
        model_cache=model_cache,
        grounder="openai",
        openai_base_url=url,
        vlm_model="fake-vlm",
        openai_backoff=0.01,
        openai_max_retries=2,
        openai_timeout=0.5,
        openai_concurrency=4,
        grounding_batch_size=BATCH,
    )
    return Engine(settings, encoder=encoder)


# --- the VLM server ------------------------------------------------------------------------------
def test_vlm_failing_for_good_mid_batch_keeps_what_was_grounded_and_a_rerun_sends_only_the_rest(
    tmp_path, draw, encoder, model_cache, vlm, monkeypatch, capsys
):
    catalog, ids = write_catalog(tmp_path / "catalog", 40, draw)
    home = tmp_path / "home"
    # 20 answers, then 503 for every request (retries included): the third batch fails half-way.
    broken = vlm(lambda v, item, attempt: Reply(content=ANSWER) if len(v.answered) < 20 else Reply(status=503))
    for name, value in vlm_env(home, model_cache, broken.server.url).items():
        monkeypatch.setenv(name, value)

    assert cli.main(["ingest", str(catalog), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err  # one line
    assert err.startswith(f"error: the VLM server at {broken.server.url}/chat/completions did not answer"), err
    assert "(HTTP 503)" in err and "16 of 40 items were stored" in err and "run the ingest again" in err, err
    answered = set(broken.answered)  # two whole batches, and four items of the third one
    assert len(answered) == 20 and set(ids[:16]) < answered < set(ids[:24]), sorted(answered)

    engine = vlm_engine(home, model_cache, broken.server.url, encoder)
    check_store(engine, set(ids[:16]))  # the two whole batches; nothing of the failed one
    broken.server.stop()

    healthy = vlm(lambda v, item, attempt: Reply(content=ANSWER))
    engine = vlm_engine(home, model_cache, healthy.server.url, encoder)
    report = engine.ingest(catalog)
    assert (report.added, report.unchanged, report.skipped) == (24, 16, []), report.summary()
    # The four answers of the failed batch came from the grounding cache: no image was sent twice.
    assert set(healthy.answered) == set(ids) - answered and max(healthy.attempts.values()) == 1
    records = check_store(engine, set(ids))
    assert {json.loads(m["record"])["grounder"] for m, _, _ in records.values()} == {"openai"}


FLAKY = {  # the first answer each item gets, before a good one
    0: Reply(status=503),
    1: Reply(status=429, headers={"Retry-After": "0"}),
    2: Reply(reset=True),  # the connection is reset mid-request
    3: Reply(content=ANSWER, delay=1.5),  # longer than VLM4REC_OPENAI_TIMEOUT=0.5
}


def test_transient_vlm_failures_are_retried_and_every_item_is_stored_once(tmp_path, draw, encoder, model_cache, vlm):
    catalog, ids = write_catalog(tmp_path / "catalog", 12, draw)
    flaky = vlm(lambda v, item, attempt: FLAKY[int(item[-3:]) % 4] if attempt == 1 else Reply(content=ANSWER))
    engine = vlm_engine(tmp_path / "home", model_cache, flaky.server.url, encoder)
    report = engine.ingest(catalog)
    assert (report.added, report.skipped) == (12, []), report.summary()
    assert flaky.attempts == {i: 2 for i in ids}  # each fault cost exactly one retry
    records = check_store(engine, set(ids))
    assert {json.loads(m["record"])["status"] for m, _, _ in records.values()} == {"ok"}


def test_a_vlm_server_that_closes_its_port_mid_run_is_a_clear_error_and_a_rerun_completes(
    tmp_path, draw, encoder, model_cache, vlm
):
    catalog, ids = write_catalog(tmp_path / "catalog", 40, draw)
    home = tmp_path / "home"

    def dies_after_20(v: Vlm, item: str, attempt: int) -> Reply:
        if len(v.answered) == 19:  # the 20th answer is the last: the port closes behind it
            threading.Thread(target=v.server.stop, daemon=True).start()
        return Reply(content=ANSWER)

    dying = vlm(dies_after_20)
    engine = vlm_engine(home, model_cache, dying.server.url, encoder)
    with pytest.raises(GroundingFailed) as caught:
        engine.ingest(catalog)
    message = str(caught.value)
    assert "did not answer after 3 tries (cannot connect" in message and "run the ingest again" in message
    stored = set(check_store(engine))
    assert stored == set(ids[: len(stored)]) and len(stored) % BATCH == 0 and len(stored) >= 16, sorted(stored)
    assert f"{len(stored)} of 40 items were stored" in message

    healthy = vlm(lambda v, item, attempt: Reply(content=ANSWER))
    report = vlm_engine(home, model_cache, healthy.server.url, encoder).ingest(catalog)
    assert report.added == 40 - len(stored) and report.unchanged == len(stored), report.summary()
    assert set(healthy.answered) == set(ids) - set(dying.answered) and max(healthy.attempts.values()) == 1
    check_store(engine, set(ids))


# --- the Chroma server ---------------------------------------------------------------------------
def test_a_store_call_is_retried_through_a_blip_and_then_fails_clearly(monkeypatch):
    monkeypatch.setattr(connection, "RETRY_DELAYS", (0.0, 0.0))
    calls = []

    def flaky(value):
        calls.append(value)
        if len(calls) < 3:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return value

    assert connection.call_store("http://127.0.0.1:8123", flaky, "done") == "done" and len(calls) == 3

    def down():
        raise httpx.ReadError("[Errno 104] Connection reset by peer")

    with pytest.raises(StoreError) as caught:
        connection.call_store("http://127.0.0.1:8123", down)
    assert str(caught.value).startswith("cannot reach the Chroma server at http://127.0.0.1:8123 (ReadError")
    assert "chroma run --path DIR --port 8123" in str(caught.value)


@pytest.mark.faults
def test_the_chroma_server_goes_away_and_comes_back(tmp_path, small_catalog, encoder, grounder, model_cache, capsys):
    if chroma_command() is None:
        pytest.skip("the `chroma` command is not installed")
    server = ChromaServer(tmp_path / "chroma-data").start()
    engine = None
    try:
        settings = Settings(home=tmp_path / "home", chroma_host="127.0.0.1", chroma_port=server.port,
                            model_cache=model_cache)  # fmt: skip
        engine = Engine(settings, encoder=encoder, grounder=grounder)
        assert engine.ingest(small_catalog).added == 10
        for item in ("red-dress", "oak-table"):
            engine.like("ann", item)
        engine.dislike("ann", "black-boots")
        before = engine.ratings.profile("ann")
        picks_before = [r.item.id for r in engine.recommend("ann", k=3)]
        records_before = check_store(engine)

        server.kill()
        down = f"cannot reach the Chroma server at {server.url}"
        actions = {
            "like": lambda: engine.like("ann", "blue-dress"),
            "search": lambda: engine.search("red summer dress", k=3),
            "recommend": lambda: engine.recommend("ann", k=3),
            "profile": lambda: engine.profile("ann"),
            "stats": lambda: engine.stats(),
        }
        for name, action in actions.items():
            with pytest.raises(StoreError) as caught:
                action()
            assert str(caught.value).startswith(down), (name, str(caught.value))
            assert f"chroma run --path DIR --port {server.port}" in str(caught.value), name
        # The faces show it as one line: the CLI's reporter, and the assistant in the chat.
        assert run_reporting_errors(lambda: engine.like("ann", "blue-dress") and 0) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {down}") and "\n" not in err, err
        turn = assistant_reply(engine, "red summer dress")
        assert turn.startswith(f"Sorry, I could not do that: {down}"), turn

        server.start()  # same folder, same port; the same engine object carries on
        # Every like made before is there, and the like refused while it was down was not half-made.
        assert engine.ratings.profile("ann") == before
        assert [r.item.id for r in engine.recommend("ann", k=3)] == picks_before
        assert engine.search("red summer dress", k=3)[0].item.id == "red-dress"
        engine.like("ann", "blue-dress")
        assert engine.ratings.profile("ann").liked == [*before.liked, "blue-dress"]
        assert check_store(engine, set(records_before)).keys() == records_before.keys()
    finally:
        if engine is not None:
            engine.close()  # its background word-index sync stops with it, before the server does
        server.stop()


def assistant_reply(engine: Engine, text: str) -> str:
    """What the offline assistant answers in the chat."""
    return DialogueManager(ShopTools(engine)).respond(Conversation(user_id="ann"), text).text
