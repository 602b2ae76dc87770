"""The basic grounder: honest attributes from what runs offline everywhere, with no VLM.

- category: from the item's own text when it names one, else from an ImageNet classifier
  (EfficientNet-Lite0) whose class probabilities are summed per product category of the
  vocabulary;
- colours: from the item's text when it names them, else from the photo's pixels;
- materials, style, pattern, occasion, season: from the item's text, plus what follows from the
  category (a bed is for a bedroom); pattern "solid" when one colour covers the object.

Every record says plainly that it came from this grounder (``grounder="basic"`` and a notice).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .colours import ColourNamer
from .efficientnet_lite import classify, imagenet_classes
from .protocol import BaseGrounder, GroundingInput, GroundingOutcome
from .schema import LIST_FIELDS, Attributes, GroundingRecord, describe_attributes
from .vocabulary import Vocabulary, load_vocabulary

RULES_VERSION = 1
# Summed ImageNet probability a category needs before the classifier's guess is used.
MIN_CATEGORY_MASS = 0.2
SOLID_SHARE = 0.85

NOTICE = (
    "Basic offline grounder: no vision-language model was used. Category and colours come from an "
    "ImageNet classifier (EfficientNet-Lite0) and the photo's pixels; materials, style and occasion "
    "only from the item's own text."
)


class BasicGrounder(BaseGrounder):
    name = "basic"
    model_id = "efficientnet-lite0-imagenet+pixel-colours"

    def __init__(self, vocabulary: Vocabulary | None = None):
        self.vocabulary = vocabulary or load_vocabulary()
        self.prompt_version = f"basic-rules-v{RULES_VERSION}+vocabulary-v{self.vocabulary.version}"
        self._colours = ColourNamer(self.vocabulary.color_rgb)
        self._category_of_class = self._map_imagenet_classes()
        self._category_names = sorted(set(self._category_of_class.values()))

    def _map_imagenet_classes(self) -> dict[int, str]:
        index = {name: i for i, name in enumerate(imagenet_classes())}
        mapping: dict[int, str] = {}
        for category in self.vocabulary.categories.values():
            for class_name in category.imagenet:
                if class_name not in index:
                    raise ValueError(f"vocabulary names unknown ImageNet class {class_name!r} for {category.name!r}")
                mapping[index[class_name]] = category.name
        return mapping

    def category_scores(self, probabilities: np.ndarray) -> dict[str, float]:
        """ImageNet probability mass summed per vocabulary category, largest first."""
        scores: dict[str, float] = {}
        for class_index, category in self._category_of_class.items():
            scores[category] = scores.get(category, 0.0) + float(probabilities[class_index])
        return dict(sorted(scores.items(), key=lambda kv: -kv[1]))

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:
        if not inputs:
            return []
        _, probabilities = classify([i.image for i in inputs])
        return [self._ground_one(item, probs) for item, probs in zip(inputs, probabilities)]

    def _ground_one(self, item: GroundingInput, probabilities: np.ndarray) -> GroundingRecord:
        vocab = self.vocabulary
        from_text = vocab.parse(item.text)
        scores = self.category_scores(probabilities)
        best, mass = next(iter(scores.items()))
        if from_text.category:
            category, category_source = from_text.category, "item text"
        elif mass >= MIN_CATEGORY_MASS:
            category, category_source = best, "image classifier"
        else:
            category, category_source = None, None

        reading = self._colours.read(item.image)
        colours, colour_source = (from_text.colors, "item text") if from_text.colors else (reading.names, "pixels")

        values = {field: list(getattr(from_text, field)) for field in LIST_FIELDS}
        values["colors"] = colours
        if category:
            spec = vocab.categories[category]
            values["occasion"] += [u for u in spec.usage if u not in values["occasion"]]
            values["season"] += [s for s in spec.season if s not in values["season"]]
        if not values["pattern"] and max(reading.shares.values()) >= SOLID_SHARE:
            values["pattern"] = ["solid"]

        attributes = Attributes(category=category, **values)
        attributes.description = describe_attributes(attributes)
        top = np.argsort(probabilities)[::-1][:3]
        names = imagenet_classes()
        evidence = {
            "category_source": category_source,
            "colour_source": colour_source,
            "imagenet_top3": [[names[i], round(float(probabilities[i]), 3)] for i in top],
            "category_scores": {k: round(v, 3) for k, v in list(scores.items())[:3]},
            "pixel_colours": {k: round(v, 3) for k, v in reading.shares.items()},
        }
        return GroundingRecord(
            attributes=attributes,
            grounder=self.name,
            model_id=self.model_id,
            prompt_version=self.prompt_version,
            notice=NOTICE,
            evidence=evidence,
        )
