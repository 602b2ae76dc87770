"""The one protocol every grounder implements: images (+ optional item text) in, one outcome each out.

An outcome is a :class:`GroundingRecord` or a :class:`GroundingFailure` that says why that input
got none. A grounder never raises for an input it cannot ground or for a VLM that stops
answering; callers (ingest, ``Engine.describe``, evaluation) decide from each failure's ``kind``
what to do: skip that input, or stop. Configuration problems found while a grounder is built
(no base URL, an unknown dtype) may still raise :class:`GrounderUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from PIL import Image

from ..errors import ConfigurationError, InvalidInputError, Vlm4recError
from .schema import GroundingRecord


@dataclass(frozen=True)
class GroundingInput:
    """One image to ground, with the catalog's own text for it when there is any.

    ``image_hash`` is the SHA-256 of the image file's bytes when known; grounders that cache
    their answers key the cache on it.
    """

    image: Image.Image
    text: str | None = None
    image_hash: str | None = None


# The errors a failure becomes where a caller has to stop (ingest) or answer one line (describe).
class GroundingError(Vlm4recError):
    """Grounding cannot go on."""


class GrounderUnavailable(ConfigurationError, GroundingError):
    """The configured grounder cannot be used at all (no weights, no network, a refused key)."""


class GroundingFailed(GroundingError):
    """The VLM did not answer, after retries."""


class ItemNotGrounded(InvalidInputError, GroundingError):
    """This one image could not be grounded (the server refused it); others can be."""


FailureKind = Literal["item", "unanswered", "unusable"]
_ERRORS: dict[str, type[GroundingError]] = {
    "item": ItemNotGrounded,
    "unanswered": GroundingFailed,
    "unusable": GrounderUnavailable,
}


@dataclass(frozen=True)
class GroundingFailure:
    """Why one input got no record.

    ``kind`` says what the failure means for the rest of the work:

    - ``"item"``: only this input is bad (the server refused this image, its answer was not
      JSON at all); skip it and go on with the others;
    - ``"unanswered"``: the VLM did not answer (timeouts, overload) after its retries: stop,
      keeping what is done, and try again later;
    - ``"unusable"``: the grounder cannot be used at all (a refused key, an unknown model, weights
      that do not load): every later input would fail the same way; stop and fix the settings.

    ``reason`` is one line saying what went wrong, ``hint`` what to do about it.
    """

    reason: str
    hint: str | None = None
    kind: FailureKind = "item"

    @property
    def stops(self) -> bool:
        """True when the work must stop here, not just skip this input."""
        return self.kind != "item"

    def error(self) -> GroundingError:
        """The one-line error a caller raises for this failure."""
        return _ERRORS[self.kind](self.reason, self.hint)

    @classmethod
    def from_error(cls, error: GroundingError) -> GroundingFailure:
        """The failure that ``error`` (raised inside a grounder) stands for."""
        kind = next(k for k, e in _ERRORS.items() if isinstance(error, e))
        return cls(error.message, error.hint, kind)

    def __str__(self) -> str:
        return str(self.error())


GroundingOutcome: TypeAlias = GroundingRecord | GroundingFailure
# What ``lookup`` is asked about: (image hash, item text), the two things an answer depends on.
LookupKey: TypeAlias = tuple[str | None, str | None]


@runtime_checkable
class Grounder(Protocol):
    """Turns product images into preference-oriented attributes.

    ``name`` is the registry name (``basic``, ``transformers``, ``openai``, or a plugin's),
    ``model_id`` the model behind it and ``prompt_version`` the version of the prompt (or rule
    set) it follows. Together they identify what produced a record: change any of them and a
    catalog is regrounded (and a cached answer is not reused).

    - ``ground`` takes a batch and returns exactly one outcome per input, in order: a record, or
      a :class:`GroundingFailure`. An answer that cannot be read as attributes is still a record,
      with ``status="unparsed"``.
    - ``lookup`` returns the records it already holds for (image hash, item text) pairs, by
      position, so that a caller need not open those images; a grounder without a cache
      returns ``{}``.
    - ``close`` releases what the grounder holds (HTTP clients, database handles).
    """

    name: str
    model_id: str
    prompt_version: str

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]: ...

    def lookup(self, keys: Sequence[LookupKey]) -> dict[int, GroundingRecord]: ...

    def close(self) -> None: ...


class BaseGrounder:
    """Defaults for implementers (the protocol stays the contract): no cache, nothing to close."""

    name: str
    model_id: str
    prompt_version: str

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:  # pragma: no cover
        raise NotImplementedError

    def lookup(self, keys: Sequence[LookupKey]) -> dict[int, GroundingRecord]:
        return {}

    def close(self) -> None:
        pass


def grounder_identity(grounder: Grounder) -> str:
    """The string that changes whenever a grounder would produce different records."""
    return f"{grounder.name}|{grounder.model_id}|{grounder.prompt_version}"


def checked(
    grounder: Grounder, inputs: Sequence[GroundingInput], outcomes: Sequence[GroundingOutcome]
) -> list[GroundingOutcome]:
    """``outcomes`` as a list, after checking that there is one per input (a grounder that breaks
    this is a bug in that grounder, not something a user can fix)."""
    outcomes = list(outcomes)
    if len(outcomes) != len(inputs):
        raise RuntimeError(
            f"the {grounder.name} grounder returned {len(outcomes)} outcomes for {len(inputs)} inputs (one each is due)"
        )
    return outcomes


def first_stop(outcomes: Sequence[GroundingOutcome]) -> GroundingFailure | None:
    """The first failure among ``outcomes`` that means the work must stop, if any."""
    return next((o for o in outcomes if isinstance(o, GroundingFailure) and o.stops), None)
