"""Make ``legacy-store-1d3c6b3.tar.gz``: a store written by the code of commit 1d3c6b3, when
likes and dislikes were Chroma records (``catalog__ratings``), for the migration test.

Run it with that commit's code first on the path (see README.md beside this file):

    git worktree add --detach /tmp/legacy 1d3c6b3
    PYTHONPATH=/tmp/legacy .venv/bin/python tests/store/data/make_legacy_store.py tests/store/data
    git worktree remove /tmp/legacy

It ingests six generated products with the real ``vlm4rec`` command (basic grounder, the bundled
MiniLM), rates them for three shoppers with ``vlm4rec like/dislike/forget``, and saves what that
code itself reads back (every rating record, and each shopper's profile) as ``legacy-ratings.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

PRODUCTS = [
    ("red-dress", (200, 30, 35), "Linen dress", "Red summer dress in linen, for the beach."),
    ("blue-dress", (40, 80, 200), "Silk dress", "Blue evening dress in silk, for a wedding."),
    ("black-boots", (20, 20, 22), "Leather boots", "Black leather boots for winter."),
    ("white-lamp", (245, 245, 243), "Table lamp", "White minimalist table lamp in metal."),
    ("oak-table", (160, 115, 75), "Dining table", "Oak dining table, scandinavian style."),
    ("grey-sofa", (128, 128, 128), "Sofa", "Grey three-seat sofa in cotton. Cosy."),
]
# (command, user, item), in this order; a repeated item replaces the earlier rating.
ACTIONS = [
    ("like", "alice", "oak-table"),
    ("dislike", "alice", "black-boots"),
    ("like", "alice", "white-lamp"),
    ("like", "bob", "red-dress"),
    ("like", "ünïcødé ✓", "grey-sofa"),
    ("like", "alice", "grey-sofa"),
    ("dislike", "bob", "blue-dress"),
    ("like", "alice", "black-boots"),  # a like after a dislike: now a like, and the latest
    ("forget", "bob", "red-dress"),
    ("like", "bob", "white-lamp"),
    ("dislike", "ünïcødé ✓", "oak-table"),
]
NAME = "legacy-store-1d3c6b3.tar.gz"


def write_catalog(folder: Path) -> Path:
    lines = []
    for item_id, colour, title, description in PRODUCTS:
        image = Image.new("RGB", (96, 96), (255, 255, 255))
        ImageDraw.Draw(image).rectangle((20, 20, 76, 76), fill=colour)
        (folder / "images").mkdir(parents=True, exist_ok=True)
        image.save(folder / "images" / f"{item_id}.jpg")
        lines.append(json.dumps({"id": item_id, "title": title, "description": description,
                                 "image": f"images/{item_id}.jpg"}))  # fmt: skip
    path = folder / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def main(out: Path) -> None:
    try:
        from vlm4rec_agent.store.ratings import RatingStore  # only the old code has it
    except ImportError:
        sys.exit("run this with the code of commit 1d3c6b3 first on PYTHONPATH (see the docstring)")
    from vlm4rec_agent.settings import Settings
    from vlm4rec_agent.store import open_client

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        home = scratch / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VLM4REC_")}
        env.update(VLM4REC_HOME=str(home), VLM4REC_MODEL_CACHE=str(scratch / "models"), HF_HUB_OFFLINE="1")

        def vlm4rec(*args: str) -> str:
            done = subprocess.run([sys.executable, "-m", "vlm4rec_agent", *args], env=env, capture_output=True,
                                  text=True, check=False)  # fmt: skip
            if done.returncode != 0:
                sys.exit(f"vlm4rec {' '.join(args)} failed: {done.stderr}")
            return done.stdout

        print(vlm4rec("ingest", str(write_catalog(scratch / "catalog")), "--no-progress").strip())
        for command, user, item in ACTIONS:
            vlm4rec(command, item, "--user", user)
            time.sleep(0.01)
        profiles = {
            user: json.loads(vlm4rec("profile", "--user", user, "--json"))
            for user in sorted({u for _, u, _ in ACTIONS})
        }

        store = RatingStore.open(open_client(Settings(home=home)), "catalog")
        raw = store._collection.get(include=["metadatas"])
        records = sorted(
            ({"id": i, **m} for i, m in zip(raw["ids"], raw["metadatas"])), key=lambda r: (r["user"], r["at"])
        )
        expected = {
            "made_by": "tests/store/data/make_legacy_store.py with the code of commit 1d3c6b3",
            "collection": "catalog__ratings",
            "records": records,
            "profiles": {
                u: {"liked": [i["id"] for i in p["liked"]], "disliked": [i["id"] for i in p["disliked"]]}
                for u, p in profiles.items()
            },  # fmt: skip
        }
        (out / "legacy-ratings.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", "utf-8")
        with tarfile.open(out / NAME, "w:gz") as archive:
            archive.add(home, arcname="home")
    print(f"wrote {out / NAME} ({(out / NAME).stat().st_size:,} bytes) and {out / 'legacy-ratings.json'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
