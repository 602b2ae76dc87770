"""The fallback wrapper: the basic grounder stands in exactly where the VLM's outcome says it stopped."""

from __future__ import annotations

from PIL import Image

from vlm4rec_agent.grounding.protocol import BaseGrounder, GroundingFailure, GroundingInput
from vlm4rec_agent.grounding.schema import Attributes, GroundingRecord
from vlm4rec_agent.grounding.vlm import FallbackGrounder

UNANSWERED = GroundingFailure("the VLM server did not answer after 3 tries (HTTP 503)", "run it again", "unanswered")
UNUSABLE = GroundingFailure("the VLM server refused the request (401)", "set VLM4REC_OPENAI_API_KEY", "unusable")
REFUSED = GroundingFailure("the VLM server refused this image (400)")


class ScriptedVlm(BaseGrounder):
    """Answers each input by its text: a failure named in ``script``, else a record."""

    name, model_id, prompt_version = "fake", "fake-model", "p1"

    def __init__(self, script: dict[str, GroundingFailure]):
        self.script = script
        self.asked: list[str] = []

    def ground(self, inputs):
        self.asked += [i.text for i in inputs]
        return [self.script.get(i.text) or self._record() for i in inputs]

    def _record(self):
        return GroundingRecord(attributes=Attributes(category="dress"), grounder=self.name,
                               model_id=self.model_id, prompt_version=self.prompt_version)  # fmt: skip


def photos(*texts):
    return [GroundingInput(Image.new("RGB", (64, 64), (200, 30, 35)), text=t) for t in texts]


def test_a_batch_the_vlm_half_answered_keeps_its_answers_and_the_basic_grounder_fills_in(grounder):
    vlm = ScriptedVlm({"c": UNANSWERED, "d": UNANSWERED})
    outcomes = FallbackGrounder(vlm, grounder).ground(photos("a", "b", "c", "d"))
    assert [o.grounder for o in outcomes] == ["fake", "fake", "basic", "basic"]
    assert [o.status for o in outcomes] == ["ok", "ok", "fallback", "fallback"]
    assert outcomes[2].notice.startswith(f"The fake grounder (fake-model) was not used: {UNANSWERED}. ")
    assert outcomes[2].evidence["wanted_grounder"] == "fake"


def test_after_a_batch_without_answers_the_next_batch_goes_to_the_vlm_again(grounder):
    vlm = ScriptedVlm({"a": UNANSWERED})
    fallback = FallbackGrounder(vlm, grounder)
    assert fallback.ground(photos("a"))[0].status == "fallback"
    assert fallback.ground(photos("b"))[0].grounder == "fake" and vlm.asked == ["a", "b"]


def test_once_the_vlm_is_unusable_it_is_not_asked_again(grounder):
    vlm = ScriptedVlm({"a": UNUSABLE})
    fallback = FallbackGrounder(vlm, grounder)
    first = fallback.ground(photos("a", "b"))
    assert [o.grounder for o in first] == ["basic", "fake"]  # the answer that did come is kept
    later = fallback.ground(photos("c"))
    assert vlm.asked == ["a", "b"] and later[0].status == "fallback" and "401" in later[0].notice


def test_an_image_only_the_vlm_refused_stays_a_failure(grounder):
    outcomes = FallbackGrounder(ScriptedVlm({"b": REFUSED}), grounder).ground(photos("a", "b"))
    assert outcomes[0].grounder == "fake" and outcomes[1] is REFUSED
