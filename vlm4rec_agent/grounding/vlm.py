"""What the VLM grounders share: prompt, answer parsing, errors, and the optional fallback.

Two kinds of failure are told apart:

- :class:`GrounderUnavailable`: the VLM cannot be used at all (no weights, no network, a
  refused key, an unknown model). Every later call would fail the same way.
- :class:`GroundingFailed`: the VLM did not answer this time (timeouts, overload) after retries.

Either stops an ingest with a message saying what to do, keeping the items already stored,
unless ``VLM4REC_GROUNDER_FALLBACK`` allows the basic grounder to stand in. Then every record
it makes has ``status="fallback"`` and a notice naming the VLM and why it was not used, and the
next ingest grounds those items again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ..errors import ConfigurationError, Vlm4recError
from .parsing import parse_answer
from .prompt import Prompt
from .protocol import Grounder, GroundingInput
from .schema import GroundingRecord
from .vocabulary import load_vocabulary

log = logging.getLogger(__name__)


class VlmError(Vlm4recError):
    """A VLM grounder cannot go on. ``answered`` holds the records of the inputs it did answer
    before it stopped (position in the batch -> record), so that a cache can keep them."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.answered: dict[int, GroundingRecord] = {}


class GrounderUnavailable(ConfigurationError, VlmError):
    """The configured VLM cannot be used at all."""


class GroundingFailed(VlmError):
    """The VLM did not answer, after retries."""


class ItemNotGrounded(Exception):
    """One input could not be grounded (the server refused that image); the others can be."""


class VlmGrounder:
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

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingRecord]:  # pragma: no cover
        raise NotImplementedError


class FallbackGrounder:
    """The configured VLM, with the basic grounder standing in when the VLM cannot answer."""

    def __init__(self, primary: Grounder, basic: Grounder):
        self.primary = primary
        self.basic = basic
        self.name, self.model_id, self.prompt_version = primary.name, primary.model_id, primary.prompt_version
        self.unavailable: str | None = None

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingRecord]:
        if self.unavailable is None:
            try:
                return self.primary.ground(inputs)
            except GrounderUnavailable as error:
                self.unavailable = str(error)
                log.warning("%s; the basic grounder stands in (VLM4REC_GROUNDER_FALLBACK is on)", error)
                return self._stand_in(inputs, self.unavailable)
            except GroundingFailed as error:
                log.warning("%s; the basic grounder stands in for this batch", error)
                return self._stand_in(inputs, str(error))
        return self._stand_in(inputs, self.unavailable)

    def lookup(self, keys):
        """The primary grounder's cached answers, when it has a cache (see CachedGrounder.lookup)."""
        lookup = getattr(self.primary, "lookup", None)
        return lookup(keys) if lookup is not None else {}

    def _stand_in(self, inputs: Sequence[GroundingInput], reason: str) -> list[GroundingRecord]:
        records = self.basic.ground(inputs)
        lead = f"The {self.primary.name} grounder ({self.primary.model_id}) was not used: {reason}. "
        for record in records:
            record.status = "fallback"
            record.notice = lead + (record.notice or "")
            record.evidence["wanted_grounder"] = self.primary.name
        return records


def timed(fn):
    """Call ``fn()`` and return (its result, seconds taken)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
