"""Assemble a Hugging Face Space folder from this repository.

    python spaces/build.py OUT_DIR [--sample-from DIR] [--per-label N] [--no-sample]

OUT_DIR gets the Space's README (with its front matter), app.py, a wheel of vlm4rec-agent, a
requirements.txt that installs it (with the app's extra) on a CPU build of torch, and sample/: a
CC0 sample of the clothing photos (N per label, 20 by default) with its licence, so that the
Space needs no download to start. The sample comes from the project's development data
(../shared/data/clothing, beside the repository) or --sample-from, a folder laid out the same
way: labels.csv (id,label,kids,image) and the photos it names. Push OUT_DIR to a Space's git
repository (see the project README).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SAMPLE_SOURCE = REPO.parent / "shared" / "data" / "clothing"
CPU_TORCH = "--extra-index-url https://download.pytorch.org/whl/cpu"
COLUMNS = ["id", "label", "kids", "image"]
# Hugging Face takes binary files through Git LFS (or Xet) only.
GITATTRIBUTES = "".join(f"*.{kind} filter=lfs diff=lfs merge=lfs -text\n" for kind in ("jpg", "jpeg", "png", "whl"))
SAMPLE_README = """# Clothing photos: a sample for the demo

{count} photos of garments, at most {per_label} per label ({labels} labels), with `labels.csv`
(`id,label,kids,image`). They come from the clothing data set of Alexey Grigorev
(github.com/alexeygrigorev/clothing-dataset), which its author dedicated to the public domain
under CC0 1.0 Universal: see LICENSE, or https://creativecommons.org/publicdomain/zero/1.0/.
The first photos of each label in id order were taken by vlm4rec-agent's `spaces/build.py`.
"""


class SampleError(Exception):
    """The sample's source folder cannot be used."""


def bundle_sample(source: Path, out: Path, per_label: int) -> Path:
    """Copy the first ``per_label`` photos of each label (in id order) into ``out``; returns its labels.csv."""
    source = source.resolve()
    catalog = source / "labels.csv"
    if not catalog.is_file():
        raise SampleError(f"no labels.csv in {source} (give --sample-from DIR, or --no-sample)")
    with open(catalog, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not set(COLUMNS) <= set(rows[0]):
        raise SampleError(f"{catalog} needs the columns {','.join(COLUMNS)}")
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    taken: Counter[str] = Counter()
    chosen = []
    for row in sorted(rows, key=lambda r: r["id"]):
        photo = source / row["image"]
        if taken[row["label"]] >= per_label or not photo.is_file() or not photo.resolve().is_relative_to(source):
            continue
        taken[row["label"]] += 1
        shutil.copyfile(photo, out / "images" / photo.name)
        chosen.append({**{c: row[c] for c in COLUMNS}, "image": f"images/{photo.name}"})
    if not chosen:
        raise SampleError(f"none of the photos that {catalog} names was found")
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(chosen)
    shutil.copyfile(HERE / "CC0-1.0.txt", out / "LICENSE")
    readme = SAMPLE_README.format(count=len(chosen), per_label=per_label, labels=len(taken))
    (out / "README.md").write_text(readme, "utf-8")
    return out / "labels.csv"


def build(out: Path, sample_from: Path | None = DEFAULT_SAMPLE_SOURCE, per_label: int = 20) -> Path:
    """Write the Space into ``out``; ``sample_from=None`` leaves the sample out (the Space downloads one)."""
    out.mkdir(parents=True, exist_ok=True)
    if sample_from is not None:
        bundle_sample(Path(sample_from), out / "sample", per_label)
    for old in out.glob("vlm4rec_agent-*.whl"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    [wheel] = out.glob("vlm4rec_agent-*.whl")
    shutil.copy(HERE / "README.md", out / "README.md")
    shutil.copy(HERE / "app.py", out / "app.py")
    (out / ".gitattributes").write_text(GITATTRIBUTES, "utf-8")
    # [app]: Gradio with MCP; [agent]: so that the Space's variables can switch on the LLM assistant
    (out / "requirements.txt").write_text(f"{CPU_TORCH}\ntorch>=2.4,<2.15\n./{wheel.name}[app,agent]\n", "utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spaces/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write the Space into")
    parser.add_argument(
        "--sample-from",
        type=Path,
        default=DEFAULT_SAMPLE_SOURCE,
        metavar="DIR",
        help=f"the clothing photos to take the sample from (default {DEFAULT_SAMPLE_SOURCE})",
    )
    parser.add_argument("--per-label", type=int, default=20, help="photos per label in the sample (default 20)")
    parser.add_argument(
        "--no-sample", action="store_true", help="bundle no photos: the Space downloads a sample when it starts"
    )
    args = parser.parse_args(argv)
    if args.per_label < 1:
        parser.error("--per-label must be at least 1")
    try:
        out = build(args.out, None if args.no_sample else args.sample_from, args.per_label)
    except SampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Space ready in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
