"""What a shopper waits for: app start, first answer, and the cost of a turn.

    python bench/assistant.py --catalog ../shared/data/clothing/labels.csv

Launches the real app (fresh process state, models not yet loaded), asks through its chat API,
and prints: seconds until the page answers, until the first chat answer, until the catalog is
searchable; then the latency of turns with the offline dialogue manager, and with the LLM
assistant against a local OpenAI-compatible server that answers at once (so the figure is the
LangChain agent's own overhead for a turn with one tool call: two model calls, one tool).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx

TURNS = [
    "show me summer t-shirts", "in blue", "I like #1", "why this one?", "more like the second one",
    "recommend something", "a warm jacket for winter", "not black", "show my profile", "start over",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, default=Path("../shared/data/clothing/labels.csv"))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    from gradio_client import Client

    from vlm4rec_agent.app import serve
    from vlm4rec_agent.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="vlm4rec-bench-app-"))
    settings = Settings(home=home, model_cache=home / "models", app_catalog=args.catalog, app_port=free_port())
    demo, app = serve(settings, limit=args.limit, block=False)
    url = f"http://127.0.0.1:{settings.app_port}"
    page = httpx.get(url, timeout=60)
    print(f"page answers (imports, launch): {time.perf_counter() - start:5.1f} s, HTTP {page.status_code}")
    client = Client(url, verbose=False)
    while app.engine.stats().items == 0:
        time.sleep(0.2)
    print(f"catalog searchable (first items stored): {time.perf_counter() - start:5.1f} s")
    first = time.perf_counter()
    answer = json.loads(client.predict("show me summer t-shirts", "bench-first", api_name="/chat"))["data"]
    print(f"first chat answer: {time.perf_counter() - first:.2f} s after asking, {time.perf_counter() - start:.1f} s after start "
          f"({len(answer['results'] or [])} results)")  # fmt: skip
    app.job.wait()
    print(f"catalog fully ingested: {time.perf_counter() - start:5.1f} s ({app.job.status()})")

    times: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        for message in TURNS:
            begin = time.perf_counter()
            client.predict(message, f"bench-{round_}", api_name="/chat")
            times.setdefault(message, []).append(1000 * (time.perf_counter() - begin))
    all_turns = [t for values in times.values() for t in values]
    print(f"\noffline dialogue manager, through the HTTP API, {len(all_turns)} turns:")
    print(f"  all turns p50 {statistics.median(all_turns):6.1f} ms, max {max(all_turns):6.1f} ms")
    for message, values in times.items():
        print(f"  {message:<28} p50 {statistics.median(values):6.1f} ms")
    from vlm4rec_agent.assistant import Conversation

    inside: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        conversation = Conversation(user_id=f"inside-{round_}")
        for message in TURNS:
            begin = time.perf_counter()
            list(app.assistant.stream(conversation, message))
            inside.setdefault(message, []).append(1000 * (time.perf_counter() - begin))
    print("\nthe same turns in process (the assistant's own cost, without HTTP and Gradio's queue):")
    for message, values in inside.items():
        print(f"  {message:<28} p50 {statistics.median(values):6.1f} ms")
    demo.close()

    from vlm4rec_agent.assistant.llm import LlmAssistant, chat_model_from_settings
    from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply

    def respond(request: dict) -> Reply:
        if request["messages"][-1]["role"] == "tool":
            return Reply(content="Here are some t-shirts that match.")
        return Reply(tool_calls=[{"name": "search_catalog", "arguments": {"query": "summer t-shirts", "k": 6}}])

    with FakeOpenAIServer(respond) as server:
        llm_settings = settings.model_copy(update={"chat_base_url": server.url, "chat_model": "instant"})
        assistant = LlmAssistant(app.shop, chat_model_from_settings(llm_settings))
        costs = []
        for n in range(10):
            begin = time.perf_counter()
            list(assistant.stream(Conversation(user_id=f"llm-{n}"), "show me summer t-shirts"))
            costs.append(1000 * (time.perf_counter() - begin))
    print("\nLLM assistant with an instant local model (agent overhead: 2 model calls + 1 tool):")
    print(
        f"  p50 {statistics.median(costs[1:]):6.1f} ms (first turn {costs[0]:.0f} ms); a real model adds its own time"
    )


if __name__ == "__main__":
    main()
