"""Items: what a catalog row gives (:class:`Item`) and what the store holds (:class:`StoredItem`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from .grounding.schema import Attributes, GroundingRecord
from .ids import nfc

MetadataValue = str | int | float | bool


class _ItemFields(BaseModel):
    id: str
    title: str = ""
    text: str = ""
    # What the catalog calls the product's type (its "type", "category" or "label" column), as it
    # wrote it: "Pendant lamp", "Dress". Empty when the catalog has no such column. Not part of the
    # content hash: the same column is in the title and the text, which are.
    kind: str = ""
    extra: dict[str, MetadataValue] = Field(default_factory=dict)


class Item(_ItemFields):
    """One product: an id, a photo, optional text, and whatever else the catalog says about it.

    Its id is in Unicode normal form C (see :mod:`vlm4rec_agent.ids`); ``where`` names the row it
    came from ("line 4"), for messages about it (not stored, not part of the content hash).
    """

    image: Path
    where: str = ""

    @field_validator("id")
    @classmethod
    def _one_unicode_form(cls, value: str) -> str:
        return nfc(value)

    def content_hash(self, image_hash: str, pipeline: str) -> str:
        """Changes when the image, any text, or the grounding/encoding pipeline changes."""
        payload = json.dumps(
            [image_hash, self.title, self.text, sorted(self.extra.items()), pipeline], default=str, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class StoredItem(_ItemFields):
    """An item as the store holds it: its catalog fields plus the grounding record."""

    image: str
    record: GroundingRecord
    content_hash: str = ""

    @property
    def attributes(self) -> Attributes:
        return self.record.attributes

    @property
    def label(self) -> str:
        """How to name the item to a person: its title, or its id when it has none."""
        return self.title or self.id


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
