"""Many shoppers at once against the launched app, over loopback HTTP.

24 shoppers, each with a client and a user id of its own, start together (a barrier) and each
searches, likes three items at the same moment, dislikes one, asks for recommendations, likes
more and asks again at once, checks the profile and asks why (``tests/support/shoppers.py``).
Every answer is checked against what that shopper alone did: no like of another shopper in a
profile or an explanation, no like lost, no stale profile, no rated item recommended. Afterwards
the store holds exactly the catalog and exactly the ratings the shoppers made, and each
shopper's last recommendation equals what the app recommends for that profile in quiet.

Browser sessions (Gradio's queue protocol, as the page speaks it) each get a guest profile of
their own, and a tab whose session state API traffic pushed out goes on. Latency per operation
is printed (``pytest -s``), never asserted on; only a hang fails on time.
"""

from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from remote_clients import launched_app
from shoppers import HttpApi, Visit, latency_table, run_shoppers, write_catalog
from tests.hardening.conftest import check_store

pytestmark = pytest.mark.slow
SHOPPERS = 24
BROWSER_SESSIONS = 6
HANG = 240  # seconds: far beyond a normal run, so only a hang fails on time


@pytest.fixture(scope="module")
def shop(tmp_path_factory, model_cache, encoder):
    """The real app on a free loopback port with a 40-item generated catalog ingested."""
    catalog = write_catalog(tmp_path_factory.mktemp("many-shoppers-catalog"))
    home = tmp_path_factory.mktemp("many-shoppers-home")
    with launched_app(catalog, home, model_cache, 40, wait=180) as (url, demo, app):
        print(f"\n{app.job.status()}")
        yield url, demo, app


@pytest.fixture(scope="module")
def catalog_ids(shop) -> list[str]:
    _, _, app = shop
    return sorted(check_store(app.engine))


# --- browser sessions ---------------------------------------------------------------------------
class BrowserSession:
    """One browser tab, speaking Gradio's queue protocol (join an event, read its stream)."""

    def __init__(self, url: str, demo):
        self.url, self.session_hash = url, uuid.uuid4().hex[:11]
        self._http = httpx.Client(base_url=url, timeout=60)
        self._events = {}
        for fn in demo.fns.values():
            for block_id, event in fn.targets:
                block = demo.blocks.get(block_id)
                name = "page" if block_id == demo._id else getattr(block, "elem_id", None) or str(block_id)
                self._events[(name, event)] = (fn._id, block_id)

    def event(self, target: str, event: str, data: list, event_data=None) -> list:
        fn_index, trigger_id = self._events[(target, event)]
        body = {"data": data, "fn_index": fn_index, "trigger_id": trigger_id, "session_hash": self.session_hash,
                "event_data": event_data}  # fmt: skip
        joined = self._http.post("/gradio_api/queue/join", json=body)
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with self._http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session_hash}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message["msg"] == "process_completed":
                    assert message.get("success"), message
                    return message["output"]["data"]
        raise AssertionError(f"the stream ended without completing {target}.{event}")

    def close(self) -> None:
        self._http.close()


def text_of(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def browse(url: str, demo, index: int) -> tuple[str, str, str]:
    """A guest opens the page, searches, selects result ``index`` and likes it."""
    tab = BrowserSession(url, demo)
    try:
        loaded = tab.event("page", "load", [""])
        guest = re.search(r"`(guest-[0-9a-f]+)`", text_of(loaded[3])).group(1)
        tab.event("message", "submit", [{"text": "show me red dresses", "files": []}, [], None, ""])
        tab.event("results", "select", [None, ""], {"index": index, "value": None, "selected": True})
        liked = tab.event("like", "click", [None, ""])
        return guest, text_of(liked[0]), text_of(liked[1])
    finally:
        tab.close()


def test_browser_sessions_at_once_each_get_their_own_guest_profile(shop):
    url, demo, app = shop
    with ThreadPoolExecutor(BROWSER_SESSIONS) as pool:
        futures = [pool.submit(browse, url, demo, i % 6) for i in range(BROWSER_SESSIONS)]
        sessions = [f.result(timeout=HANG) for f in futures]
    guests = [guest for guest, _, _ in sessions]
    assert len(set(guests)) == BROWSER_SESSIONS, guests
    for guest, selected, profile_text in sessions:
        assert selected.startswith("Liked #"), selected
        assert f"`{guest}` · 1 liked, 0 disliked" in profile_text, profile_text
        liked = [i.title for i in app.engine.profile(guest).liked]
        assert len(liked) == 1 and "Liked #" in selected and liked[0] in selected, (guest, liked, selected)


def test_a_browser_tab_whose_session_state_was_dropped_under_api_traffic_goes_on(shop):
    """Every stateless API call holds a Gradio session; enough of them push out an idle tab's state.

    Gradio keeps at most ``state_session_capacity`` sessions (10,000 by default, lowered here so
    that a few calls do it). The tab must go on (a fresh conversation), not fail on every event.
    First in the module, while few sessions are held (each call pushes out one, oldest first).
    """
    url, demo, _ = shop
    tab = BrowserSession(url, demo)
    capacity = demo.state_holder.capacity
    try:
        tab.event("page", "load", [""])
        demo.state_holder.capacity = 5
        api = HttpApi(url)
        for _ in range(300):  # real API traffic evicts the tab's state (the oldest session goes first)
            if tab.session_hash not in demo.state_holder:
                break
            api.predict("shopper-evictor", api_name="/show_profile")
        api.close()
        assert tab.session_hash not in demo.state_holder, "300 API calls did not push out the tab's state"
        sent = tab.event("message", "submit", [{"text": "show me red dresses", "files": []}, [], None, ""])
        assert "Red" in text_of(sent[0]), sent[0]
        tab.event("results", "select", [None, ""], {"index": 0, "value": None, "selected": True})
        liked = tab.event("like", "click", [None, ""])
        assert text_of(liked[0]).startswith("Liked #1"), liked[0]
    finally:
        demo.state_holder.capacity = capacity
        tab.close()


@pytest.fixture(scope="module")
def visits(shop, catalog_ids) -> list[Visit]:
    url, _, _ = shop
    users = [f"shopper-{i:02d}" for i in range(SHOPPERS)]
    with ThreadPoolExecutor(1) as watcher:  # bounded in time: a hang fails instead of blocking
        return watcher.submit(run_shoppers, url, users, catalog_ids).result(timeout=HANG)


def test_many_shoppers_at_once_get_no_errors_and_only_their_own_likes(visits):
    done = visits
    print(f"\n{latency_table(done)}")
    errors = [e for v in done for e in v.errors]
    problems = [p for v in done for p in v.problems]
    assert not errors, errors[:5]
    assert not problems, problems[:5]
    assert len(done) == SHOPPERS and all(len(v.liked) == 5 and len(v.disliked) == 1 for v in done)
    assert len({frozenset(v.liked) for v in done}) == SHOPPERS, "the load should give every shopper other likes"


def test_the_store_holds_exactly_the_catalog_and_every_rating_made(shop, visits, catalog_ids):
    _, _, app = shop
    done = visits
    check_store(app.engine, set(catalog_ids))
    users = {r.user for r in app.engine.ratings.all_ratings()}
    guests = users - {v.user for v in done}  # the browser tabs above: one like each
    assert all(g.startswith("guest-") and len(app.engine.ratings.profile(g).rated) == 1 for g in guests), guests
    assert app.engine.ratings.count() == sum(len(v.rated) for v in done) + len(guests)
    assert app.engine.ratings.count_users() == len(users)
    for visit in done:
        profile = app.engine.profile(visit.user)
        assert {i.id for i in profile.liked} == visit.liked and {i.id for i in profile.disliked} == visit.disliked


def test_recommendations_under_load_equal_those_in_quiet_and_differ_by_profile(shop, visits):
    _, _, app = shop
    done = visits
    for visit in done:
        quiet = [r.id for r in app.shop.recommend_for_user(visit.user, 8).results]
        assert visit.recommended == quiet, visit.user
    distinct = {tuple(v.recommended) for v in done}
    assert len(distinct) >= SHOPPERS // 2, f"only {len(distinct)} different recommendation lists"
