"""The openai grounder against a real HTTP server on 127.0.0.1 that plays an OpenAI-compatible VLM."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from vlm4rec_agent.grounding.openai_api import OpenAIGrounder
from vlm4rec_agent.grounding.prompt import load_prompt
from vlm4rec_agent.grounding.protocol import GrounderUnavailable, GroundingFailure, GroundingInput
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
