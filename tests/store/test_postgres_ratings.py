"""Shoppers shared through a real PostgreSQL server (started by the test; see conftest.py).

The store's own behaviour on PostgreSQL is tested by every test of test_ratings.py (its
``ratings`` fixture runs each on SQLite and on PostgreSQL). Here: separate OS processes, as on
separate machines, each with its own ``VLM4REC_HOME`` and its own copy of the catalog (the
embedded Chroma store serves one process at a time; machines would each ingest the catalog, or
share a Chroma server), sharing shoppers through ``VLM4REC_RATINGS_URL`` alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings

pytestmark = pytest.mark.slow

# One shopper's likes from a process released at the same moment as the other: 150 items of its
# own, in order, and the ten catalog items through the engine (both processes rate those).
CHILD = r"""
import sys, time
from pathlib import Path
from vlm4rec_agent.engine import Engine

name, folder = sys.argv[1], Path(sys.argv[2])
engine = Engine()
engine.ratings.profile("ann")  # opened and connected before the start
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
catalog = sys.argv[3].split(",")
for i in range(150):
    engine.ratings.rate("ann", f"{name}-{i:03d}", 1 if i % 4 else -1)
    if i % 15 == 0:
        item = catalog[(i // 15 + (name == "b") * 5) % len(catalog)]
        (engine.like if name == "a" else engine.dislike)("ann", item)
print(engine.stats().ratings)
"""


def process_env(home: Path, url: str, model_cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLM4REC_")}
    return {**env, "VLM4REC_HOME": str(home), "VLM4REC_MODEL_CACHE": str(model_cache), "VLM4REC_RATINGS_URL": url}


@pytest.fixture
def two_homes(tmp_path, small_catalog, encoder, grounder, model_cache, postgres_url):
    """Two homes, each with the same catalog ingested into its own embedded Chroma store."""
    homes = [tmp_path / "home-a", tmp_path / "home-b"]
    for home in homes:
        engine = Engine(Settings(home=home, model_cache=model_cache), encoder=encoder, grounder=grounder)
        assert engine.ingest(small_catalog).added == 10
        engine.client.close()
    return homes


def test_two_processes_share_one_shoppers_likes_through_postgres(two_homes, postgres_url, model_cache):
    a, b = (process_env(home, postgres_url, model_cache) for home in two_homes)

    def vlm4rec(env, *args):
        done = subprocess.run([sys.executable, "-m", "vlm4rec_agent", *args], env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    vlm4rec(a, "like", "oak-table", "--user", "bob")  # one process likes...
    assert [i["id"] for i in json.loads(vlm4rec(b, "profile", "--user", "bob", "--json"))["liked"]] == ["oak-table"]
    vlm4rec(b, "dislike", "black-boots", "--user", "bob")  # ...another dislikes...
    profile = json.loads(vlm4rec(a, "profile", "--user", "bob", "--json"))  # ...each sees both
    assert [i["id"] for i in profile["liked"]] == ["oak-table"] and [i["id"] for i in profile["disliked"]] == [
        "black-boots"
    ]
    picks = json.loads(vlm4rec(b, "recommend", "--user", "bob", "--json"))
    assert {"oak-table", "black-boots"}.isdisjoint(p["id"] for p in picks)
    for home in two_homes:
        assert not (home / "ratings.sqlite").exists()  # the likes are in PostgreSQL only


def test_likes_made_at_once_from_two_processes_for_one_shopper_are_all_kept(
    two_homes, postgres_url, model_cache, small_catalog, tmp_path
):
    catalog = [json.loads(line)["id"] for line in small_catalog.read_text().splitlines()]
    children = {
        name: subprocess.Popen(
            [sys.executable, "-c", CHILD, name, str(tmp_path), ",".join(catalog)],
            env=process_env(home, postgres_url, model_cache),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, home in zip("ab", two_homes)
    }
    deadline = time.monotonic() + 180
    while not all((tmp_path / f"ready-{n}").exists() for n in children):
        assert all(c.poll() is None for c in children.values()), [c.communicate() for c in children.values()]
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.05)
    (tmp_path / "go").touch()
    for child in children.values():
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err

    store = Engine(Settings(home=two_homes[0], ratings_url=postgres_url)).ratings
    profile = store.profile("ann")
    for name in children:  # every one of each process's ratings, in the order it made them
        assert [i for i in profile.liked if i.startswith(f"{name}-")] == [
            f"{name}-{i:03d}" for i in range(150) if i % 4
        ]
        assert [i for i in profile.disliked if i.startswith(f"{name}-")] == [
            f"{name}-{i:03d}" for i in range(150) if not i % 4
        ]
    # The catalog items both processes rated: each is one rating, a like or a dislike.
    assert set(catalog) <= profile.rated and set(profile.liked).isdisjoint(profile.disliked)
    assert store.count() == 300 + len(catalog) and store.count_users() == 1
    times = {n: [r.at for r in store.all_ratings() if r.item.startswith(f"{n}-")] for n in children}
    assert max(min(t) for t in times.values()) < min(max(t) for t in times.values()), "the two did not overlap"
    store.close()
