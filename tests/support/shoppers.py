"""Simulated shoppers, for load tests and benchmarks of the launched app.

Each shopper visits the app through its public HTTP API with a client of its own (``HttpApi``
by default, or a ``gradio_client.Client``) and a user id of its own, and does what a shopper does: searches in the chat, likes three
items at the same moment (one by chat, two by tool), dislikes one, asks for recommendations,
likes more and asks again at once, looks at the profile, asks why. Every answer is checked
against what this shopper alone did, so a like lost, a like seen in another's profile, or a
stale profile shows up as a *problem*; every call is timed.

Nothing here imports Gradio's server; an HTTP client is all a shopper needs.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUERY = "show me red dresses"
LATER_LIKES = 2  # likes after the first recommendation, each followed at once by recommend and explain


COLOURS = {"red": (200, 30, 35), "blue": (40, 80, 200), "green": (50, 150, 60), "black": (20, 20, 22),
           "yellow": (230, 200, 40)}  # fmt: skip
KINDS = {
    "dress": "summer dress in linen, casual, for the beach",
    "skirt": "pleated skirt in cotton for summer days",
    "shirt": "shirt in cotton, formal, for work",
    "jacket": "warm jacket in wool for winter",
    "boots": "boots in leather for autumn walks",
    "bag": "handbag in leather, elegant, for a party",
    "lamp": "table lamp in metal for the bedroom",
    "vase": "vase in glass, decorative, for the living room",
}


def write_catalog(folder: Path) -> Path:
    """A JSONL catalog of generated products (every colour of every kind, 40 items) with their photos."""
    from PIL import Image, ImageDraw

    lines = []
    for colour, rgb in COLOURS.items():
        for kind, text in KINDS.items():
            item_id = f"{colour}-{kind}"
            image = Image.new("RGB", (160, 160), (255, 255, 255))
            ImageDraw.Draw(image).rectangle((32, 32, 128, 128), fill=rgb)
            (folder / "images").mkdir(parents=True, exist_ok=True)
            image.save(folder / "images" / f"{item_id}.jpg")
            title = f"{colour.title()} {kind}"
            row = {"id": item_id, "title": title, "description": f"{title}: {colour} {text}.",
                   "image": f"images/{item_id}.jpg"}  # fmt: skip
            lines.append(json.dumps(row))
    path = folder / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


class ApiError(RuntimeError):
    """The app answered a call with an error, or not at all."""


class HttpApi:
    """The app's HTTP API as ``curl`` users call it: POST ``/gradio_api/call/NAME``, then read the answer's stream.

    Lighter than ``gradio_client`` (which polls every 50 ms in a thread per call, so that with
    dozens of clients in one process its own polling is most of the latency measured).
    Thread-safe: one connection pool for all of a shopper's calls.
    """

    def __init__(self, url: str, timeout: float = 120.0):
        import httpx

        self._http = httpx.Client(base_url=url, timeout=timeout)

    def predict(self, *args: Any, api_name: str) -> Any:
        name = api_name.strip("/")
        posted = self._http.post(f"/gradio_api/call/{name}", json={"data": list(args)})
        if posted.status_code != 200:
            raise ApiError(f"HTTP {posted.status_code}: {posted.text[:200]}")
        event = ""
        with self._http.stream("GET", f"/gradio_api/call/{name}/{posted.json()['event_id']}") as answer:
            for line in answer.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "complete":
                    return json.loads(line[5:])[0]
                elif line.startswith("data:") and event == "error":
                    raise ApiError(line[5:].strip())
        raise ApiError(f"the answer to {name} ended without a result")

    def close(self) -> None:
        self._http.close()


@dataclass
class Visit:
    """What one shopper did, saw and waited for."""

    user: str
    liked: set[str] = field(default_factory=set)
    disliked: set[str] = field(default_factory=set)
    recommended: list[str] = field(default_factory=list)  # ids of the last recommendation, in order
    timings: list[tuple[str, float]] = field(default_factory=list)  # (operation, seconds)
    problems: list[str] = field(default_factory=list)  # wrong answers: leaks, lost likes, stale profiles
    errors: list[str] = field(default_factory=list)  # calls that failed
    began: float = 0.0  # time.perf_counter() when the visit started (after the barrier) and ended
    ended: float = 0.0

    @property
    def rated(self) -> set[str]:
        return self.liked | self.disliked


def cited_likes(results: Sequence[dict[str, Any]]) -> set[str]:
    """Ids of liked items that explanations cite (the items a shared attribute came from)."""
    return {
        i for r in results for reason in r.get("reasons", []) if reason["source"] == "liked" for i in reason["item_ids"]
    }


class Shopper:
    """One shopper's visit; ``run()`` waits at ``start`` (a barrier) so that all begin together."""

    def __init__(
        self,
        url: str,
        user: str,
        index: int,
        catalog_ids: Sequence[str],
        client_factory: Callable[[str], Any] = HttpApi,
    ):
        self.visit = Visit(user=user)
        self.index = index
        self.catalog_ids = list(catalog_ids)
        self._client = client_factory(url)  # anything with predict(*args, api_name=...) -> JSON text
        self._lock = threading.Lock()

    # --- calls --------------------------------------------------------------------------------
    def call(self, operation: str, *args: Any, api_name: str) -> dict[str, Any]:
        begin = time.perf_counter()
        try:
            answer = json.loads(self._client.predict(*args, api_name=api_name))["data"]  # out of its envelope
        except Exception as error:
            with self._lock:
                self.visit.errors.append(f"{operation}: {type(error).__name__}: {error}")
            raise
        finally:
            with self._lock:
                self.visit.timings.append((operation, time.perf_counter() - begin))
        return answer

    def problem(self, text: str) -> None:
        with self._lock:
            self.visit.problems.append(f"{self.visit.user}: {text}")

    def chat(self, operation: str, message: str) -> dict[str, Any]:
        return self.call(operation, message, self.visit.user, api_name="/chat")

    def like(self, item_id: str) -> dict[str, Any]:
        return self.call("like", self.visit.user, item_id, api_name="/like_item")

    def recommend(self) -> list[dict[str, Any]]:
        return self.call("recommend", self.visit.user, 8, "", "", api_name="/recommend_for_user")["results"]

    def explain(self, item_id: str) -> dict[str, Any]:
        return self.call("explain", self.visit.user, item_id, api_name="/explain_item")

    # --- checks ---------------------------------------------------------------------------------
    def check_results(self, what: str, results: Sequence[dict[str, Any]], exclude: set[str]) -> None:
        shown = [r["id"] for r in results]
        if exclude & set(shown):
            self.problem(f"{what} returned items the shopper rated: {sorted(exclude & set(shown))}")
        foreign = cited_likes(results) - self.visit.liked
        if foreign:
            self.problem(f"{what} cites likes that are not the shopper's: {sorted(foreign)}")

    def check_fresh(self, item_id: str) -> None:
        """Explaining an item liked a moment ago must cite it: the profile read includes the like."""
        answer = self.explain(item_id)
        self.check_results(f"explain {item_id}", [answer], set())
        if item_id not in cited_likes([answer]):
            self.problem(f"explaining {item_id} just after liking it does not cite it: {answer['explanation']!r}")

    def check_profile(self, profile: dict[str, Any]) -> None:
        liked = {i["id"] for i in profile["liked"]}
        disliked = {i["id"] for i in profile["disliked"]}
        if profile["user"] != self.visit.user or liked != self.visit.liked or disliked != self.visit.disliked:
            self.problem(
                f"profile is liked={sorted(liked)} disliked={sorted(disliked)}, expected "
                f"liked={sorted(self.visit.liked)} disliked={sorted(self.visit.disliked)}"
            )

    # --- the visit ------------------------------------------------------------------------------
    def others(self, shown: Sequence[str], n: int) -> list[str]:
        """``n`` catalog items not on screen, a different run of them for each shopper."""
        pool = [i for i in self.catalog_ids if i not in set(shown)]
        start = (5 * self.index) % len(pool)
        return (pool[start:] + pool[:start])[:n]

    def run(self, start: threading.Barrier | None = None) -> Visit:
        if start is not None:
            start.wait()
        self.visit.began = time.perf_counter()
        try:
            self._shop()
        except Exception:  # already recorded as an error; the visit ends there
            pass
        finally:
            self.visit.ended = time.perf_counter()
            close = getattr(self._client, "close", None)
            if close is not None:
                close()
        return self.visit

    def _shop(self) -> None:
        v = self.visit
        found = self.chat("chat search", QUERY)["results"]
        if not found:
            self.problem(f"no results for {QUERY!r}")
            return
        shown = [r["id"] for r in found]
        position = self.index % len(shown)
        picks = self.others(shown, 3 + LATER_LIKES)
        tool_likes, disliked, later = picks[:2], picks[2], picks[3:]
        v.liked = {shown[position], *tool_likes}

        # Three likes at the same moment: one by chat, two by tool.
        with ThreadPoolExecutor(3) as pool:
            chatted = pool.submit(self.chat, "chat like", f"I like #{position + 1}")
            for future in [chatted, *(pool.submit(self.like, i) for i in tool_likes)]:
                future.result()
        if "Liked" not in chatted.result()["text"]:
            self.problem(f"'I like #{position + 1}' was not understood: {chatted.result()['text']!r}")
        self.check_fresh(tool_likes[-1])

        v.disliked = {disliked}
        self.call("dislike", v.user, disliked, api_name="/dislike_item")
        self.check_results("recommend", self.recommend(), v.rated)
        answer = self.chat("chat recommend", "recommend something")
        if f"from {len(v.liked)} liked items" not in answer["text"]:
            self.problem(f"chat recommendation does not count {len(v.liked)} likes: {answer['text']!r}")
        self.check_results("chat recommend", answer["results"] or [], v.rated)

        for item_id in later:  # like, then at once recommend and explain: the like must show
            self.like(item_id)
            v.liked.add(item_id)
            self.check_results(f"recommend after liking {item_id}", self.recommend(), v.rated)
            self.check_fresh(item_id)

        self.check_profile(self.call("show profile", v.user, api_name="/show_profile"))
        searched = self.chat("chat search", QUERY)["results"] or []
        self.check_results("personalised search", searched, v.disliked)
        final = self.recommend()
        self.check_results("recommend", final, v.rated)
        v.recommended = [r["id"] for r in final]
        if final:
            self.check_results(f"explain {final[0]['id']}", [self.explain(final[0]["id"])], set())


def run_shoppers(
    url: str,
    users: Sequence[str],
    catalog_ids: Sequence[str],
    client_factory: Callable[[str], Any] = HttpApi,
) -> list[Visit]:
    """Start one shopper per user id together (behind a barrier) and return their visits."""
    shoppers = [Shopper(url, user, i, catalog_ids, client_factory) for i, user in enumerate(users)]
    start = threading.Barrier(len(shoppers))
    with ThreadPoolExecutor(len(shoppers)) as pool:
        return list(pool.map(lambda s: s.run(start), shoppers))


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def latency_table(visits: Sequence[Visit]) -> str:
    """Per-operation latency (ms: p50, p95, p99, max) and the request rate, as a text table."""
    seconds = max(v.ended for v in visits) - min(v.began for v in visits)
    by_operation: dict[str, list[float]] = {}
    for visit in visits:
        for operation, took in visit.timings:
            by_operation.setdefault(operation, []).append(1000 * took)
    every = [t for values in by_operation.values() for t in values]
    by_operation["all requests"] = every
    lines = [f"{'operation':<16} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms)"]
    for operation, values in by_operation.items():
        if values:
            figures = [percentile(values, q) for q in (0.5, 0.95, 0.99)] + [max(values)]
            lines.append(f"{operation:<16} {len(values):>5} " + " ".join(f"{f:8.0f}" for f in figures))
    lines.append(
        f"{len(visits)} shoppers, {len(every)} requests in {seconds:.1f} s: {len(every) / seconds:.1f} requests/s"
    )
    return "\n".join(lines)
