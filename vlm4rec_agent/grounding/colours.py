"""Name the dominant colours of a product photo from its pixels.

Product photos are mostly an object on a plain backdrop, so the backdrop is estimated from the
image border and masked out; the remaining pixels are clustered (k-means in CIE Lab, where
distances follow perception) and each cluster is named by the nearest reference colour of the
vocabulary. Photos without a plain backdrop (a garment on a bed) fall back to the central part of
the frame. Everything is numpy on a 64-pixel thumbnail: about 6 ms per image on 2 cores (96 pixels took
10 ms and named the catalog's own first colour no more often: 166 vs 168 of 250 IKEA items).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

THUMBNAIL = 64
BORDER = 3  # pixels of the thumbnail's edge that estimate the backdrop
BACKDROP_SPREAD = 12.0  # Lab distance under which the border counts as one plain backdrop
FOREGROUND_DISTANCE = 14.0  # Lab distance from the backdrop that makes a pixel foreground
MIN_FOREGROUND = 0.01  # below this share of pixels, the object is taken to be backdrop-coloured
MIN_SHARE = 0.12  # a colour must cover this share of the object to be named
MAX_COLOURS = 3


@dataclass(frozen=True)
class ColourReading:
    names: list[str]  # most prominent first
    shares: dict[str, float]  # share of the object's pixels per name
    backdrop: str | None  # name of the plain backdrop, if one was found


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert an (..., 3) array of sRGB values in 0..255 to CIE Lab (D65)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    matrix = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


class ColourNamer:
    def __init__(self, references: dict[str, list[tuple[int, int, int]]]):
        names, rgbs = [], []
        for name, colours in references.items():
            for rgb in colours:
                names.append(name)
                rgbs.append(rgb)
        self._names = names
        self._lab = srgb_to_lab(np.array(rgbs, dtype=np.float64))

    def name_lab(self, lab: np.ndarray) -> list[str]:
        """Nearest reference name for each row of an (N, 3) Lab array."""
        distances = ((lab[:, None, :] - self._lab[None, :, :]) ** 2).sum(-1)
        return [self._names[i] for i in distances.argmin(1)]

    def read(self, image: Image.Image) -> ColourReading:
        thumb = image.convert("RGB").resize((THUMBNAIL, THUMBNAIL), Image.BILINEAR)
        lab = srgb_to_lab(np.asarray(thumb))
        border = np.concatenate(
            [
                lab[:BORDER].reshape(-1, 3),
                lab[-BORDER:].reshape(-1, 3),
                lab[:, :BORDER].reshape(-1, 3),
                lab[:, -BORDER:].reshape(-1, 3),
            ]
        )
        backdrop = np.median(border, axis=0)
        spread = np.median(np.linalg.norm(border - backdrop, axis=1))
        backdrop_name = None
        if spread <= BACKDROP_SPREAD:
            backdrop_name = self.name_lab(backdrop[None])[0]
            mask = np.linalg.norm(lab - backdrop, axis=-1) > FOREGROUND_DISTANCE
            if mask.mean() < MIN_FOREGROUND:
                # Almost nothing stands out from the backdrop: the object shares its colour.
                return ColourReading([backdrop_name], {backdrop_name: 1.0}, backdrop_name)
            pixels = lab[mask]
        else:
            margin = THUMBNAIL // 5
            pixels = lab[margin:-margin, margin:-margin].reshape(-1, 3)
        shares = self._cluster_shares(pixels)
        names = [n for n, s in sorted(shares.items(), key=lambda kv: -kv[1]) if s >= MIN_SHARE][:MAX_COLOURS]
        if not names:
            names = [max(shares, key=shares.get)]
        return ColourReading(names, shares, backdrop_name)

    def _cluster_shares(self, pixels: np.ndarray, k: int = 5, iterations: int = 8) -> dict[str, float]:
        k = min(k, len(pixels))
        rng = np.random.default_rng(0)
        centres = pixels[rng.choice(len(pixels), size=k, replace=False)]
        for _ in range(iterations):
            labels = ((pixels[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
            for j in range(k):
                members = pixels[labels == j]
                if len(members):
                    centres[j] = members.mean(0)
        labels = ((pixels[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        counts = np.bincount(labels, minlength=k) / len(pixels)
        shares: dict[str, float] = {}
        for name, share in zip(self.name_lab(centres), counts):
            shares[name] = shares.get(name, 0.0) + float(share)
        return shares
