"""What the VLM grounders share: prompt, answer parsing, and the optional fallback.

A VLM grounder reports two kinds of trouble as failures of its inputs (see
:class:`~.protocol.GroundingFailure`), never as exceptions:

- ``"unusable"``: the VLM cannot be used at all (no weights, no network, a refused key, an
  unknown model). Every later call would fail the same way.
- ``"unanswered"``: the VLM did not answer this time (timeouts, overload) after retries.

Either stops an ingest with a message saying what to do, keeping the items already stored,
unless ``VLM4REC_GROUNDER_FALLBACK`` allows the basic grounder to stand in. Then every record
it makes has ``status="fallback"`` and a notice naming the VLM and why it was not used, and the
next ingest grounds those items again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from .parsing import parse_answer
from .prompt import Prompt
from .protocol import (
    BaseGrounder,
    Grounder,
    GrounderUnavailable,
    GroundingFailed,
    GroundingFailure,
    GroundingInput,
    GroundingOutcome,
    LookupKey,
)
from .schema import GroundingRecord
from .vocabulary import load_vocabulary

__all__ = ["FallbackGrounder", "GrounderUnavailable", "GroundingFailed", "VlmGrounder", "timed"]

log = logging.getLogger(__name__)


class VlmGrounder(BaseGrounder):
    """Base of the VLM grounders: turns a model's answer into a record."""

    name = "vlm"

    def __init__(self, model_id: str, prompt: Prompt):
        self.model_id = model_id
        self.prompt = prompt
        self.prompt_version = prompt.version
        self._vocabulary = load_vocabulary()

    def record(self, answer: str, seconds: float | None = None) -> GroundingRecord:
        parsed = parse_answer(answer, self._vocabulary)
        evidence: dict = {"problems": parsed.problems} if parsed.problems else {}
        if seconds is not None:
            evidence["seconds"] = round(seconds, 3)
        notice = None
        if parsed.status == "unparsed":
            notice = (
                f"The {self.name} VLM's answer could not be read as attributes; its text is kept as the description."
            )
        return GroundingRecord(
            attributes=parsed.attributes,
            grounder=self.name,
            model_id=self.model_id,
            prompt_version=self.prompt_version,
            status=parsed.status,
            notice=notice,
            evidence=evidence,
            raw_output=answer,
        )


class FallbackGrounder:
    """The configured VLM, with the basic grounder standing in for the inputs the VLM could not
    answer. Once the VLM is unusable, the basic grounder grounds everything that follows; after a
    batch the VLM did not answer, the next batch goes to the VLM again. The VLM's own answers, and
    inputs that only it found bad (``kind="item"``), are passed on as they are."""

    def __init__(self, primary: Grounder, basic: Grounder):
        self.primary = primary
        self.basic = basic
        self.name, self.model_id, self.prompt_version = primary.name, primary.model_id, primary.prompt_version
        self.unavailable: str | None = None

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:
        if self.unavailable is not None:
            return self._stand_in(inputs, [self.unavailable] * len(inputs))
        outcomes = list(self.primary.ground(inputs))
        failed = [i for i, o in enumerate(outcomes) if isinstance(o, GroundingFailure) and o.stops]
        if not failed:
            return outcomes
        reasons = [str(outcomes[i]) for i in failed]
        unusable = next((outcomes[i] for i in failed if outcomes[i].kind == "unusable"), None)
        if unusable is not None:
            self.unavailable = str(unusable)
            log.warning("%s; the basic grounder stands in (VLM4REC_GROUNDER_FALLBACK is on)", self.unavailable)
        else:
            log.warning("%s; the basic grounder stands in for this batch", reasons[0])
        for i, outcome in zip(failed, self._stand_in([inputs[i] for i in failed], reasons)):
            outcomes[i] = outcome
        return outcomes

    def lookup(self, keys: Sequence[LookupKey]) -> dict[int, GroundingRecord]:
        """The primary grounder's cached answers (see CachedGrounder.lookup)."""
        return self.primary.lookup(keys)

    def close(self) -> None:
        self.primary.close()
        self.basic.close()

    def _stand_in(self, inputs: Sequence[GroundingInput], reasons: Sequence[str]) -> list[GroundingOutcome]:
        outcomes = list(self.basic.ground(inputs)) if inputs else []
        for outcome, reason in zip(outcomes, reasons):
            if isinstance(outcome, GroundingRecord):
                lead = f"The {self.primary.name} grounder ({self.primary.model_id}) was not used: {reason}. "
                outcome.status = "fallback"
                outcome.notice = lead + (outcome.notice or "")
                outcome.evidence["wanted_grounder"] = self.primary.name
        return outcomes


def timed(fn):
    """Call ``fn()`` and return (its result, seconds taken)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
