"""The openai grounder against a real HTTP server on 127.0.0.1 that plays an OpenAI-compatible VLM."""

from __future__ import annotations

import base64
import io
import json
import logging
import re

import pytest
from PIL import Image

from vlm4rec_agent.grounding import output_schema
from vlm4rec_agent.grounding.openai_api import OpenAIGrounder, refuses_schema
from vlm4rec_agent.grounding.prompt import load_prompt
from vlm4rec_agent.grounding.protocol import GrounderUnavailable, GroundingFailure, GroundingInput, grounder_identity
from vlm4rec_agent.grounding.registry import make_grounder
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply, scripted

GOOD = {
    "category": "dress",
    "colors": ["red"],
    "materials": ["linen"],
    "style": ["casual", "romantic"],
    "pattern": ["solid"],
    "occasion": ["beach"],
    "season": ["summer"],
    "description": "A red linen sundress for hot days by the sea.",
}


def image(colour=(200, 30, 35)):
    return Image.new("RGB", (64, 48), colour)


def grounder(server, **kwargs):
    options = {"timeout": 5.0, "max_retries": 2, "backoff": 0.01, "concurrency": 4}
    options.update(kwargs)
    return OpenAIGrounder(server.url, "fake-vlm", load_prompt(), **options)


@pytest.fixture
def serve():
    servers = []

    def start(responder, **kwargs):
        server = FakeOpenAIServer(responder, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_good_json_gives_a_complete_record_and_the_request_is_well_formed(serve):
    server = serve(scripted(Reply(content=json.dumps(GOOD))), api_key="sk-test")
    g = grounder(server, api_key="sk-test")
    [record] = g.ground([GroundingInput(image(), text="Linen sundress")])
    assert record.status == "ok" and record.grounder == "openai" and record.model_id == "fake-vlm"
    assert record.attributes.category == "dress" and record.attributes.materials == ["linen"]
    assert record.prompt_version.startswith("ground_product.v1#")
    assert record.raw_output == json.dumps(GOOD)
    [request] = server.requests
    assert request["model"] == "fake-vlm" and request["temperature"] == 0
    text_part, image_part = request["messages"][0]["content"]
    assert "Linen sundress" in text_part["text"] and "not instructions" in text_part["text"]
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (64, 48)


def test_fenced_json_with_chatter_is_read(serve):
    answer = "Sure! Here is the JSON:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nLet me know."
    [record] = grounder(serve(scripted(Reply(content=answer)))).ground([GroundingInput(image())])
    assert record.status == "ok" and record.attributes.colors == ["red"]


def test_broken_json_keeps_the_text_and_marks_the_record(serve):
    answer = "I think this is a red linen dress, nice for summer {category: dress"
    [record] = grounder(serve(scripted(Reply(content=answer)))).ground([GroundingInput(image())])
    assert record.status == "unparsed"
    assert record.attributes.description == answer
    assert record.attributes.category == "dress" and "linen" in record.attributes.materials  # read from the prose
    assert "could not be read" in record.notice


def test_a_429_is_retried_then_succeeds(serve):
    server = serve(scripted(Reply(status=429, headers={"Retry-After": "0"}), Reply(content=json.dumps(GOOD))))
    [record] = grounder(server).ground([GroundingInput(image())])
    assert record.status == "ok" and len(server.requests) == 2


def test_a_server_that_never_answers_in_time_fails_after_the_retries(serve):
    server = serve(scripted(Reply(content=json.dumps(GOOD), delay=1.0)))
    [failure] = grounder(server, timeout=0.3, max_retries=1).ground([GroundingInput(image())])
    assert failure.kind == "unanswered" and failure.stops
    assert re.search(r"did not answer after 2 tries \(no answer within 0.3 s\)", failure.reason)
    assert len(server.requests) == 2


def test_5xx_after_all_retries_says_so(serve):
    server = serve(scripted(Reply(status=503)))
    [failure] = grounder(server).ground([GroundingInput(image())])
    assert failure.kind == "unanswered"
    assert re.search(r"after 3 tries \(HTTP 503\).*run the ingest again", str(failure))


def test_a_refused_key_stops_at_once_and_says_what_to_set(serve):
    server = serve(scripted(Reply(content="{}")), api_key="right")
    outcomes = grounder(server, api_key="wrong").ground([GroundingInput(image()), GroundingInput(image())])
    assert len(outcomes) == 2 and all(o.kind == "unusable" for o in outcomes)
    assert re.search(r"refused the request \(401.*VLM4REC_OPENAI_API_KEY", str(outcomes[0]))
    refusing = serve(scripted(Reply(status=403)))
    outcomes = grounder(refusing, concurrency=1).ground([GroundingInput(image()) for _ in range(3)])
    assert all(o.kind == "unusable" for o in outcomes) and "(403" in outcomes[2].reason
    assert len(refusing.requests) == 1  # nothing more was sent once the key was refused


def test_an_unknown_model_or_path_is_a_404_with_a_hint(serve):
    server = serve(scripted(Reply(status=404)))
    [failure] = grounder(server).ground([GroundingInput(image())])
    assert failure.kind == "unusable"
    assert re.search(r"no such model or endpoint.*VLM4REC_VLM_MODEL", str(failure))


def test_answers_that_arrived_before_the_server_failed_for_good_are_kept(serve):
    answered = []

    def respond(request):
        if len(answered) < 2:
            answered.append(request)
            return Reply(content=json.dumps(GOOD))
        return Reply(status=503)

    server = serve(respond)
    outcomes = grounder(server, max_retries=0, concurrency=1).ground([GroundingInput(image()) for _ in range(5)])
    assert [type(o).__name__ for o in outcomes] == ["GroundingRecord"] * 2 + ["GroundingFailure"] * 3
    assert outcomes[2].kind == "unanswered" and outcomes[3] is outcomes[4] is outcomes[2]
    assert len(server.requests) == 3  # the last two were never sent: they carry the failure that stopped the batch


def test_one_refused_image_does_not_sink_the_batch(serve):
    def respond(request):
        url = request["messages"][0]["content"][1]["image_url"]["url"]
        pixel = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).getpixel((0, 0))
        return Reply(status=400) if pixel[2] > 150 else Reply(content=json.dumps(GOOD))

    inputs = [GroundingInput(image()), GroundingInput(image((40, 80, 200))), GroundingInput(image())]
    outcomes = grounder(serve(respond)).ground(inputs)
    assert [isinstance(o, GroundingFailure) for o in outcomes] == [False, True, False]
    assert outcomes[1].kind == "item" and "refused this image (400" in outcomes[1].reason


def test_requests_run_concurrently_up_to_the_limit(serve):
    server = serve(scripted(Reply(content=json.dumps(GOOD), delay=0.2)))
    records = grounder(server, concurrency=3).ground([GroundingInput(image()) for _ in range(7)])
    assert len(records) == 7 and all(r.status == "ok" for r in records)
    assert server.max_in_flight == 3


def test_in_flight_requests_turn_n_slow_answers_into_about_n_over_concurrency(serve):
    import time

    # 0.6 s a reply: long enough that all eight are sent (each image encoded first) before the first
    # answer comes back, even on a loaded 2-core CI machine (0.25 s was not: 7 of 8 overlapped once).
    server = serve(scripted(Reply(content=json.dumps(GOOD), delay=0.6)))
    inputs = [GroundingInput(image()) for _ in range(8)]
    timings = {}
    for concurrency in (1, 8):
        start = time.perf_counter()
        grounder(server, concurrency=concurrency).ground(inputs)
        timings[concurrency] = time.perf_counter() - start
    assert timings[1] >= 8 * 0.6  # one at a time: at least the sum of the delays
    assert server.max_in_flight == 8  # all eight were waiting on the server together...
    # ...so they took a fraction of the sequential time (a ratio from one run: about 1/8 on a
    # quiet machine, 1/3 under CI load, where encoding the images dominates).
    assert timings[8] < timings[1] / 2, timings


def test_nothing_is_sent_without_a_base_url_or_a_model():
    with pytest.raises(GrounderUnavailable, match="VLM4REC_OPENAI_BASE_URL"):
        OpenAIGrounder(None, "m", load_prompt())
    with pytest.raises(GrounderUnavailable, match="VLM4REC_VLM_MODEL"):
        OpenAIGrounder("http://127.0.0.1:9/v1", None, load_prompt())


# --- structured outputs (response_format json_schema) ------------------------------------------
def test_every_request_asks_for_the_attributes_schema_and_the_version_names_it(serve):
    server = serve(scripted(Reply(content=json.dumps(GOOD))))
    g = grounder(server)
    records = g.ground([GroundingInput(image()), GroundingInput(image())])
    assert len(server.requests) == 2
    for request in server.requests:
        assert request["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "product_attributes", "strict": True, "schema": output_schema.attributes_schema()},
        }
    assert list(server.requests[0]["response_format"]["json_schema"]["schema"]["properties"]) == list(GOOD)
    version = f"{load_prompt().version}+{output_schema.schema_version()}"
    assert g.prompt_version == version and all(r.prompt_version == version and r.status == "ok" for r in records)
    assert "response_format" not in records[0].evidence


def test_a_server_that_refuses_the_schema_is_asked_again_without_it_once_then_never_with_it(serve, caplog):
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"  # unconstrained, the parser reads it as before
    server = serve(scripted(Reply(content=fenced)), refuse_response_format=True)
    g = grounder(server, concurrency=1)
    with caplog.at_level(logging.WARNING, logger="vlm4rec_agent.grounding.openai_api"):
        records = g.ground([GroundingInput(image()) for _ in range(3)])
        records += g.ground([GroundingInput(image())])
    assert ["response_format" in r for r in server.requests] == [True, False, False, False, False]
    first, retry = server.requests[:2]
    assert {k: v for k, v in first.items() if k != "response_format"} == retry  # the same request, less the schema
    assert all(r.status == "ok" and r.attributes.category == "dress" for r in records)
    assert all(r.prompt_version == load_prompt().version for r in records)  # made by the prompt alone
    assert "refused by the server" in records[0].evidence["response_format"]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "does not take response_format" in warning and "VLM4REC_OPENAI_JSON_SCHEMA" in warning


def test_a_tgi_style_422_about_response_format_is_a_refusal_too(serve):
    tgi = "Failed to deserialize the JSON body into the target type: response_format: unknown variant `json_schema`"

    def respond(request):
        if "response_format" in request:
            return Reply(status=422, body=json.dumps({"error": tgi}))
        return Reply(content=json.dumps(GOOD))

    server = serve(respond)
    [record] = grounder(server).ground([GroundingInput(image())])
    assert record.status == "ok" and len(server.requests) == 2


def test_another_400_is_not_sent_again_and_the_schema_stays_on(serve):
    server = serve(scripted(Reply(status=400), Reply(content=json.dumps(GOOD))))
    g = grounder(server, concurrency=1)
    [failure] = g.ground([GroundingInput(image())])
    assert isinstance(failure, GroundingFailure) and failure.kind == "item" and len(server.requests) == 1
    [record] = g.ground([GroundingInput(image())])
    assert record.status == "ok" and not g.schema_refused
    assert all("response_format" in r for r in server.requests)


def test_what_counts_as_refusing_the_schema():
    assert refuses_schema(400, "'response_format' of type 'json_schema' is not supported with this model")
    assert refuses_schema(400, "guided decoding is not supported by this backend")
    assert refuses_schema(422, "Structured output is unavailable")
    assert not refuses_schema(400, "image could not be decoded")
    assert not refuses_schema(400, "image format not supported")
    assert not refuses_schema(500, "response_format: internal error")  # a 5xx is retried as before


def test_the_setting_turns_the_schema_off(serve, tmp_path, monkeypatch):
    server = serve(scripted(Reply(content=json.dumps(GOOD))))
    monkeypatch.setenv("VLM4REC_OPENAI_JSON_SCHEMA", "false")
    settings = Settings(
        home=tmp_path, grounder="openai", openai_base_url=server.url, vlm_model="fake-vlm", grounding_cache=False
    )
    g = make_grounder(settings)
    [record] = g.ground([GroundingInput(image())])
    assert "response_format" not in server.requests[0] and record.status == "ok"
    assert g.prompt_version == record.prompt_version == load_prompt().version
    on = grounder(server)
    assert grounder_identity(on) != grounder_identity(g)  # cached answers of one are not taken for the other


def test_requests_in_flight_together_when_the_schema_is_refused_each_go_again_once_with_one_warning(serve, caplog):
    server = serve(scripted(Reply(content=json.dumps(GOOD), delay=0.1)), refuse_response_format=True)
    with caplog.at_level(logging.WARNING, logger="vlm4rec_agent.grounding.openai_api"):
        records = grounder(server, concurrency=4).ground([GroundingInput(image()) for _ in range(6)])
    assert all(r.status == "ok" for r in records)
    assert sum("response_format" not in r for r in server.requests) == 6  # one answered request per image
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
