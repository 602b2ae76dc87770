"""A demo catalog anyone can download: garment photos from the CC0 clothing data set.

The small edition of Alexey Grigorev's clothing data set (github.com/alexeygrigorev/
clothing-dataset-small, CC0 1.0) is a zip of JPEG photos in one folder per label. This takes a
few photos per label from it and writes a ``labels.csv`` catalog that ``vlm4rec ingest`` and the
app read as they are. The zip is downloaded once; a second call finds the catalog and returns.
"""

from __future__ import annotations

import csv
import logging
import shutil
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path, PurePosixPath

import httpx

from .errors import Vlm4recError

log = logging.getLogger(__name__)

CLOTHING_ZIP = "https://github.com/alexeygrigorev/clothing-dataset-small/archive/refs/heads/master.zip"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
MAX_ZIP_BYTES = 600 * 1024 * 1024


def _download(url: str, target: Path, timeout: float) -> None:
    partial = target.with_suffix(".part")
    size = 0
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
            response.raise_for_status()
            with open(partial, "wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    size += len(chunk)
                    if size > MAX_ZIP_BYTES:
                        raise Vlm4recError(f"the demo catalog at {url} is larger than {MAX_ZIP_BYTES // 2**20} MB")
                    out.write(chunk)
    except httpx.HTTPError as error:
        partial.unlink(missing_ok=True)
        raise Vlm4recError(
            f"cannot download the demo catalog from {url}: {error}",
            "check the network, or ingest a catalog of your own",
        ) from error
    partial.replace(target)


def prepare_clothing_demo(folder: Path, per_label: int = 20, url: str = CLOTHING_ZIP, timeout: float = 120.0) -> Path:
    """Download (once) and unpack a demo catalog; returns the path of its ``labels.csv``."""
    folder = Path(folder)
    catalog = folder / "labels.csv"
    if catalog.is_file():
        return catalog
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        archive = Path(scratch) / "clothing.zip"
        log.info("downloading the demo catalog from %s", url)
        _download(url, archive, timeout)
        chosen: dict[str, list[zipfile.ZipInfo]] = defaultdict(list)
        with zipfile.ZipFile(archive) as zipped:
            for info in sorted(zipped.infolist(), key=lambda i: i.filename):
                path = PurePosixPath(info.filename)
                if (
                    info.is_dir()
                    or path.suffix.lower() not in IMAGE_SUFFIXES
                    or ".." in path.parts
                    or len(path.parts) < 2
                ):
                    continue
                label = path.parent.name
                if len(chosen[label]) < per_label:
                    chosen[label].append(info)
            rows = []
            for label, infos in sorted(chosen.items()):
                for info in infos:
                    name = PurePosixPath(info.filename)
                    relative = Path("images") / label / name.name
                    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                    with zipped.open(info) as source, open(folder / relative, "wb") as target:
                        shutil.copyfileobj(source, target)
                    rows.append({"id": f"{label}/{name.stem}", "label": label, "image": relative.as_posix()})
    if not rows:
        raise Vlm4recError(f"the archive from {url} holds no photos in label folders")
    partial = catalog.with_suffix(".part")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "label", "image"])
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(catalog)
    log.info("demo catalog: %d photos in %d labels at %s", len(rows), len(chosen), catalog)
    return catalog
