"""The basic grounder taught by the catalog: its guesses from the photo replaced by learned heads.

The basic grounder reads what the item's text names and guesses the rest from the photo (an
ImageNet classifier mapped onto product categories, the pixels' colours). Once the catalog has
taught heads (:mod:`vlm4rec_agent.grounding.learned_heads`), every attribute the text does not
name comes from them instead: the category, the main colour (the pixels' colours follow it),
the material, pattern and style, each with its calibrated probability and where it was learned
("learned from 1,255 items of this catalog"), recorded in the record's evidence. A value the
heads are not confident enough of is left out, not guessed, and a photo unlike anything in the
catalog (a cat in a clothing shop, a screenshot, a blank page) is named nothing at all; its
record says so.

It keeps the basic grounder's name, model and prompt version: what an item with text stores does
not change, and the next ingest does not ground the catalog again because heads were learned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..image_encoding import ImageEncoder
from .basic import BasicGrounder
from .learned_heads import FIELDS, Heads, Learned
from .protocol import GroundingInput, GroundingOutcome, LookupKey
from .schema import LIST_FIELDS, Attributes, GroundingRecord, describe_attributes

NOT_OF_THIS_CATALOG = (
    "This photo does not look like anything in this catalog (similarity {nearest:.2f} to its nearest item; "
    "the catalog's own photos are at least {novelty:.2f} from theirs), so no product type or material is guessed "
    "from it."
)


class LearnedGrounder:
    """A :class:`~vlm4rec_agent.grounding.protocol.Grounder`: the basic one, then the heads.

    ``heads()`` gives the catalog's current heads (None before any are learned: the basic
    grounder's records pass unchanged); ``nearest(vectors)`` each vector's similarity to its
    nearest catalog item.
    """

    def __init__(
        self,
        basic: BasicGrounder,
        heads: Callable[[], Heads | None],
        image_encoder: Callable[[], ImageEncoder],
        nearest: Callable[[np.ndarray], list[float]],
    ):
        self.basic = basic
        self.name, self.model_id, self.prompt_version = basic.name, basic.model_id, basic.prompt_version
        self.vocabulary = basic.vocabulary
        self._heads, self._image_encoder, self._nearest = heads, image_encoder, nearest

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:
        outcomes = self.basic.ground(inputs)
        heads = self._heads()
        if heads is None or not inputs:
            return outcomes
        encoder = self._image_encoder()
        if encoder.name != heads.encoder:
            return outcomes  # heads of another image encoder: learned again at the next ingest
        vectors = encoder.encode([i.image for i in inputs])
        nearest = self._nearest(vectors)
        learned = heads.predict(vectors, nearest)
        return [
            self.refine(outcome, item.text, found, heads, near) if isinstance(outcome, GroundingRecord) else outcome
            for outcome, item, found, near in zip(outcomes, inputs, learned, nearest)
        ]

    def lookup(self, keys: Sequence[LookupKey]) -> dict[int, GroundingRecord]:
        return {}

    def close(self) -> None:
        self.basic.close()

    def refine(
        self,
        record: GroundingRecord,
        text: str | None,
        learned: dict[str, Learned] | None,
        heads: Heads,
        nearest: float,
    ) -> GroundingRecord:
        """The record with every attribute its text does not name taken from the heads (``learned``;
        None: the photo is not of this catalog's world, ``nearest`` being its similarity to the
        nearest catalog item)."""
        named = self.vocabulary.parse(text)
        old = record.attributes
        values = {field: list(getattr(old, field)) for field in LIST_FIELDS}
        category = old.category if named.category else None
        sources: dict[str, dict] = {}
        evidence = dict(record.evidence) | {"nearest_item_similarity": round(nearest, 3)}
        if learned is None:
            notice = NOT_OF_THIS_CATALOG.format(nearest=nearest, novelty=heads.novelty)
            for field in ("materials", "pattern", "style", "occasion", "season"):
                values[field] = list(getattr(named, field))
            evidence["learned"] = {"abstained": True, "novelty": heads.novelty}
            evidence["category_source"] = None if not named.category else evidence.get("category_source")
            attributes = Attributes(category=category, **values)
            attributes.description = describe_attributes(attributes)
            return record.model_copy(update={"attributes": attributes, "notice": notice, "evidence": evidence})
        for field in FIELDS:
            if field in learned and not getattr(named, field):
                found = learned[field]
                sources[field] = {"value": found.value, "probability": found.probability,
                                  "source": heads.source(heads.heads[field])}  # fmt: skip
                if field == "category":
                    category = found.value
                elif field == "colors":
                    values["colors"] = [found.value, *(c for c in values["colors"] if c != found.value)]
                else:
                    values[field] = [found.value]
            elif field in heads.heads and field != "colors" and not getattr(named, field):
                # the head was not sure enough: left out, not guessed (the pixels' colours stay)
                if field == "category":
                    category = None
                else:
                    values[field] = []
        values["occasion"], values["season"] = list(named.occasion), list(named.season)
        if category:
            spec = self.vocabulary.categories.get(category)
            if spec is not None:
                values["occasion"] += [u for u in spec.usage if u not in values["occasion"]]
                values["season"] += [s for s in spec.season if s not in values["season"]]
        attributes = Attributes(category=category, **values)
        attributes.description = describe_attributes(attributes)
        if not named.category:
            evidence["category_source"] = sources["category"]["source"] if "category" in sources else None
        evidence["learned"] = sources
        notice = (
            f"Basic offline grounder taught by this catalog: {', '.join(sorted(sources))} learned from its items' "
            "photos and text; no vision-language model was used."
            if sources
            else record.notice
        )
        return record.model_copy(update={"attributes": attributes, "notice": notice, "evidence": evidence})
