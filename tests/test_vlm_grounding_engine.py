"""VLM grounders inside the engine and the CLI: cache, fallback, errors, describe."""

from __future__ import annotations

import json

import pytest

from vlm4rec_agent.cli import main
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import ConfigurationError, Vlm4recError
from vlm4rec_agent.grounding.protocol import BaseGrounder, GroundingFailed, GroundingFailure
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply, scripted
from vlm4rec_agent.testing.tiny_vlm import build_tiny_vlm

ANSWER = json.dumps(
    {
        "category": "dress",
        "colors": ["red"],
        "materials": ["linen"],
        "style": ["bohemian"],
        "pattern": ["floral"],
        "occasion": ["beach"],
        "season": ["summer"],
        "description": "A flowing floral dress.",
    }
)


@pytest.fixture
def vlm_server():
    with FakeOpenAIServer(scripted(Reply(content=ANSWER))) as server:
        yield server


def openai_engine(tmp_path, model_cache, encoder, server_url, **overrides):
    values = dict(
        home=tmp_path / "home",
        model_cache=model_cache,
        grounder="openai",
        openai_base_url=server_url,
        vlm_model="fake-vlm",
        openai_max_retries=0,
    )
    values.update(overrides)
    return Engine(Settings(**values), encoder=encoder)


def test_vlm_attributes_reach_the_store_and_the_explanations(tmp_path, model_cache, encoder, vlm_server, small_catalog):
    engine = openai_engine(tmp_path, model_cache, encoder, vlm_server.url)
    report = engine.ingest(small_catalog)
    assert report.added == 10 and len(vlm_server.requests) == 10
    item = engine.get_item("oak-chair")
    assert item.record.grounder == "openai" and item.attributes.pattern == ["floral"]
    [top] = engine.search("bohemian floral", k=1)
    assert {r.value for r in top.explanation.reasons} >= {"bohemian", "floral"}


def test_a_second_ingest_makes_zero_vlm_calls_and_a_new_prompt_asks_again(
    tmp_path, model_cache, encoder, vlm_server, small_catalog
):
    openai_engine(tmp_path, model_cache, encoder, vlm_server.url).ingest(small_catalog)
    assert len(vlm_server.requests) == 10
    # Another collection in the same home: everything is embedded and stored again, nothing re-asked.
    again = openai_engine(tmp_path, model_cache, encoder, vlm_server.url, collection="copy").ingest(small_catalog)
    assert again.added == 10 and len(vlm_server.requests) == 10
    prompt = tmp_path / "mine.v2.txt"
    prompt.write_text("Describe this product as JSON. $item_text")
    engine = openai_engine(
        tmp_path, model_cache, encoder, vlm_server.url, collection="copy", grounding_prompt=str(prompt)
    )
    report = engine.ingest(small_catalog)
    assert report.updated == 10 and len(vlm_server.requests) == 20
    assert engine.get_item("red-dress").record.prompt_version.startswith("mine.v2#")


def test_without_fallback_an_unusable_vlm_stops_with_what_to_set(tmp_path, model_cache, encoder, small_catalog):
    with FakeOpenAIServer(scripted(Reply(content=ANSWER)), api_key="right") as server:
        engine = openai_engine(tmp_path, model_cache, encoder, server.url)
        with pytest.raises(ConfigurationError, match="refused the request.*VLM4REC_OPENAI_API_KEY"):
            engine.ingest(small_catalog)
    assert engine.stats().items == 0


def test_with_fallback_the_basic_grounder_stands_in_visibly_and_is_replaced_later(
    tmp_path, model_cache, encoder, small_catalog
):
    with FakeOpenAIServer(scripted(Reply(content=ANSWER)), api_key="right") as locked:
        engine = openai_engine(tmp_path, model_cache, encoder, locked.url, grounder_fallback=True)
        report = engine.ingest(small_catalog)
    assert report.added == 10 and report.fallback == 10 and "grounded by the basic fallback" in report.summary()
    record = engine.get_item("red-dress").record
    assert record.status == "fallback" and record.grounder == "basic"
    assert "openai grounder (fake-vlm) was not used" in record.notice and "401" in record.notice
    with FakeOpenAIServer(scripted(Reply(content=ANSWER))) as good:
        engine = openai_engine(tmp_path, model_cache, encoder, good.url, grounder_fallback=True)
        report = engine.ingest(small_catalog)
        assert report.updated == 10 and report.fallback == 0 and len(good.requests) == 10
    assert engine.get_item("red-dress").record.grounder == "openai"


def test_fallback_also_covers_a_vlm_that_is_not_configured(tmp_path, model_cache, encoder, small_catalog):
    engine = openai_engine(tmp_path, model_cache, encoder, None, grounder_fallback=True)
    report = engine.ingest(small_catalog)
    assert report.fallback == 10
    assert "VLM4REC_OPENAI_BASE_URL" in engine.get_item("red-dress").record.notice


def test_a_timeout_mid_ingest_keeps_what_was_stored(tmp_path, model_cache, encoder, small_catalog):
    replies = [Reply(content=ANSWER)] * 3 + [Reply(content=ANSWER, delay=2.0)]
    with FakeOpenAIServer(scripted(*replies)) as server:
        engine = openai_engine(
            tmp_path, model_cache, encoder, server.url, openai_timeout=0.3, grounding_batch_size=3, openai_concurrency=1
        )
        with pytest.raises(Vlm4recError, match="did not answer"):
            engine.ingest(small_catalog)
    assert engine.stats().items == 3  # the first batch was stored before the server went slow
    with FakeOpenAIServer(scripted(Reply(content=ANSWER))) as server:
        engine = openai_engine(tmp_path, model_cache, encoder, server.url, grounding_batch_size=3)
        report = engine.ingest(small_catalog)
        assert (report.added, report.unchanged, len(server.requests)) == (7, 3, 7)


# --- the command line -----------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path, monkeypatch, model_cache):
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))


def test_describe_with_a_local_transformers_model(cli_env, tmp_path, product_image, capsys):
    model = build_tiny_vlm("idefics3", tmp_path / "tiny-idefics3")
    photo = product_image(colour=(200, 30, 35))
    code = main(["describe", str(photo), "--grounder", "transformers", "--model", str(model), "--json"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["grounder"] == "transformers" and record["model_id"] == str(model)
    assert record["raw_output"]


def test_describe_with_an_openai_compatible_server(cli_env, monkeypatch, vlm_server, product_image, capsys):
    monkeypatch.setenv("VLM4REC_OPENAI_BASE_URL", vlm_server.url)
    code = main(
        ["describe", str(product_image()), "--grounder", "openai", "--model", "fake-vlm", "--text", "summer dress"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "openai grounder (fake-vlm" in out and "pattern    floral" in out
    assert "summer dress" in vlm_server.requests[0]["messages"][0]["content"][0]["text"]


def test_describe_with_an_unreachable_vlm_is_one_line(cli_env, product_image, capsys):
    code = main(["describe", str(product_image()), "--grounder", "openai", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: the openai grounder has no server") and err.count("\n") == 1


@pytest.mark.parametrize("image_encoder", ["none", "efficientnet-lite0"])
def test_cached_answers_are_used_without_asking_the_vlm_again(
    tmp_path, model_cache, encoder, vlm_server, small_catalog, monkeypatch, image_encoder
):
    """Without image vectors a cached answer does not even open the photo; with them, each photo
    is opened once, for its image vector, and the VLM is still not asked."""
    import vlm4rec_agent.ingest as ingest_module

    engine = openai_engine(tmp_path, model_cache, encoder, vlm_server.url, image_encoder=image_encoder)
    engine.ingest(small_catalog)
    opened = []
    real_open = ingest_module.open_image
    monkeypatch.setattr(ingest_module, "open_image", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    copy = openai_engine(tmp_path, model_cache, encoder, vlm_server.url, collection="copy", image_encoder=image_encoder)
    again = copy.ingest(small_catalog)
    assert again.added == 10 and len(vlm_server.requests) == 10
    if image_encoder == "none":
        assert opened == [] and copy.catalog.visual is None
    else:
        assert sorted(map(str, opened)) == sorted({str(p) for p in opened}) and len(opened) == 10
        assert copy.catalog.visual.count() == 10


def test_an_interrupted_ingest_with_stores_in_flight_resumes_without_duplicates(
    tmp_path, model_cache, encoder, grounder, small_catalog, monkeypatch
):
    import vlm4rec_agent.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "STORE_EVERY", 2)  # hand every batch to the store thread

    class StopsAtTheFourthBatch(BaseGrounder):
        name, model_id, prompt_version = grounder.name, grounder.model_id, grounder.prompt_version

        def __init__(self):
            self.batches = 0

        def ground(self, inputs):
            self.batches += 1
            if self.batches == 4:
                raise KeyboardInterrupt
            return grounder.ground(inputs)

    settings = Settings(home=tmp_path / "home", model_cache=model_cache, grounding_batch_size=2)
    engine = Engine(settings, encoder=encoder, grounder=StopsAtTheFourthBatch())
    with pytest.raises(KeyboardInterrupt):
        engine.ingest(small_catalog)
    assert engine.stats().items == 6  # three whole batches, each stored once
    report = Engine(settings, encoder=encoder, grounder=grounder).ingest(small_catalog)
    assert (report.added, report.unchanged) == (4, 6)
    ids = engine.catalog.dense.sample_ids(limit=100)
    assert len(ids) == len(set(ids)) == 10


# --- what ingest and describe do with each kind of outcome ----------------------------------------
class ScriptedGrounder(BaseGrounder):
    """The basic grounder, except for the items a script names: a failure of the given kind."""

    def __init__(self, basic, script: dict[str, str]):
        self.basic, self.script = basic, script
        self.name, self.model_id, self.prompt_version = "scripted", "s1", "p1"
        self.asked: list[str] = []

    def ground(self, inputs):
        self.asked += [i.text.split(".")[0] for i in inputs]
        outcomes = self.basic.ground(inputs)
        for n, one in enumerate(inputs):
            kind = next((k for word, k in self.script.items() if word in one.text), None)
            if kind:
                outcomes[n] = GroundingFailure(f"no luck with {one.text.split('.')[0]}", "try later", kind)
        return outcomes


def test_an_item_failure_skips_that_item_with_its_reason_and_the_rest_goes_in(
    settings, encoder, grounder, small_catalog
):
    engine = Engine(settings, encoder=encoder, grounder=ScriptedGrounder(grounder, {"Oak chair": "item"}))
    report = engine.ingest(small_catalog)
    assert report.added == 9 and [p.item_id for p in report.skipped] == ["oak-chair"]
    assert report.skipped[0].reason == "not grounded: no luck with Chair (try later)"


@pytest.mark.parametrize(("kind", "error"), [("unanswered", GroundingFailed), ("unusable", ConfigurationError)])
def test_a_failure_that_stops_keeps_the_batches_before_it(settings, encoder, grounder, small_catalog, kind, error):
    # Batches of 3: the sofa is in the third (items 7-9), so two batches are stored.
    settings = settings.model_copy(update={"grounding_batch_size": 3})
    scripted = ScriptedGrounder(grounder, {"Grey three-seat sofa": kind})
    engine = Engine(settings, encoder=encoder, grounder=scripted)
    with pytest.raises(
        error, match=r"^no luck with Sofa; 6 of 10 items were stored before the ingest stopped \(try later\)$"
    ):
        engine.ingest(small_catalog)
    assert engine.stats().items == 6 and len(scripted.asked) == 9  # the fourth batch was never asked for


def test_describe_turns_a_failure_into_its_one_line_error(settings, encoder, grounder, product_image):
    engine = Engine(settings, encoder=encoder, grounder=ScriptedGrounder(grounder, {"refuse me": "item"}))
    with pytest.raises(Vlm4recError, match=r"^no luck with refuse me \(try later\)$"):
        engine.describe(product_image(), text="refuse me")
    assert engine.describe(product_image(), text="a red box").grounder == "basic"


def test_a_grounder_that_returns_too_few_outcomes_is_a_bug_not_a_skip(settings, encoder, grounder, small_catalog):
    class LosesOne(BaseGrounder):
        name, model_id, prompt_version = "lossy", "l1", "p1"

        def ground(self, inputs):
            return grounder.ground(inputs)[1:]

    with pytest.raises(RuntimeError, match="the lossy grounder returned 9 outcomes for 10 inputs"):
        Engine(settings, encoder=encoder, grounder=LosesOne()).ingest(small_catalog)
