"""The one protocol every grounder implements: images (+ optional item text) in, records out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image

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


@runtime_checkable
class Grounder(Protocol):
    """Turns product images into preference-oriented attributes.

    ``name`` is the registry name (``basic``, ``transformers``, ``openai``...), ``model_id`` the
    model behind it and ``prompt_version`` the version of the prompt (or rule set) it follows.
    Together they identify what produced a record: change any of them and a catalog is regrounded.
    ``ground`` takes a batch and returns one record per input, in order; an answer that cannot be
    read becomes a record with ``status="unparsed"``, never an exception.
    """

    name: str
    model_id: str
    prompt_version: str

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingRecord]: ...


def grounder_identity(grounder: Grounder) -> str:
    """The string that changes whenever a grounder would produce different records."""
    return f"{grounder.name}|{grounder.model_id}|{grounder.prompt_version}"


class PartialGrounding(Exception):
    """Some inputs of a batch could not be grounded; the others were.

    ``records[i]`` is the record of input ``i`` or None, and ``reasons[i]`` says why it is None.
    A grounder raises this instead of failing a whole batch for one bad input.
    """

    def __init__(self, records: list[GroundingRecord | None], reasons: dict[int, str]):
        super().__init__(f"{len(reasons)} of {len(records)} inputs could not be grounded")
        self.records = records
        self.reasons = reasons
