"""How well, and how fast, the offline assistant reads shoppers' messages.

    python bench/understanding.py [--before 0bdc199] [--turns ../shared/data/clothing/labels.csv]

Reads the labelled sets in tests/assistant/data: ``messages_tune.jsonl`` (written with the
classifier's examples), ``messages_dev.jsonl`` (written apart, by someone who saw neither the
examples nor the code, then used to tune them) and ``messages_heldout.jsonl`` (written apart the
same way and never tuned on), and prints for each: intent accuracy with a bootstrap 95% interval, per
intent, slot accuracy (references, wanted and excluded words, the search text) on the messages
whose intent was read right, the confusions left, how often it asked instead of acting, and the
destructive readings (a clearing intent read into a message that did not ask for one).

``--before COMMIT`` also scores the regular expressions that read messages up to that commit
(``vlm4rec_agent/assistant/understanding.py`` there, e.g. ``0bdc199``): accuracy on every message,
and on the 14 intents they knew (they had no confirm, cancel or undo), and how many messages that
did not ask for it would have wiped the profile.

Then the cost: milliseconds to read a message (p50, p99), and, with ``--turns CATALOG``, whole
offline turns (reading and acting: search, refine, like, why...) on a store of that catalog's
first ``--limit`` items. Run it on a quiet machine (no tests, no other benchmarks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "assistant" / "data"
SETS = {
    "tune": ("messages_tune.jsonl", "tuned on: written with the examples"),
    "dev": ("messages_dev.jsonl", "tuned on: written apart, then used to tune"),
    "heldout": ("messages_heldout.jsonl", "never tuned on: written apart, measured once"),
}
TURNS = [
    "show me summer t-shirts", "in blue", "I like #1", "why this one?", "more like the second one",
    "not black", "recommend something", "a warm jacket for winter", "keep number 2", "remind me what I picked",
]  # fmt: skip


def report(name: str, result) -> None:
    estimate = result.estimate
    print(f"\n## {name}: {result.n} messages")
    print(
        f"intent accuracy {estimate.mean:.3f} (95% CI {estimate.low:.3f}-{estimate.high:.3f}); "
        f"slot accuracy {result.slot_accuracy:.3f} ({result.slots_right}/{result.slots_checked}); "
        f"asked instead of acting: {result.asked}; destructive readings: {len(result.destructive)}"
    )
    print("\n| intent | right | of | accuracy |\n|---|---:|---:|---:|")
    for intent, (right, of) in result.per_intent.items():
        print(f"| {intent} | {right} | {of} | {right / of:.2f} |")
    if result.confusions:
        print("\nconfusions (expected -> read: count): " + ", ".join(
            f"{a} -> {b}: {n}" for (a, b), n in result.confusions.most_common()
        ))  # fmt: skip
    for row in result.wrong:
        print(f"  wrong  {row[0]}: {row[1]!r} expected {row[2]}, read {row[3]}")
    for row in result.slot_misses:
        print(f"  slots  {row[0]}: {row[1]!r}: {row[2]}")


def before(commit: str) -> None:
    """The regular-expression reader of an earlier commit, on the same labelled sets."""
    import subprocess
    import types

    import numpy as np

    from vlm4rec_agent.evaluation.stats import bootstrap
    from vlm4rec_agent.evaluation.understanding_eval import read_labelled

    source = subprocess.run(
        ["git", "show", f"{commit}:vlm4rec_agent/assistant/understanding.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("from ..grounding.vocabulary", "from vlm4rec_agent.grounding.vocabulary")
    old = types.ModuleType("understanding_before")
    sys.modules[old.__name__] = old  # its dataclasses look their module up
    exec(compile(source, f"{commit}:understanding.py", "exec"), old.__dict__)
    known = set(old.Kind.__args__)
    print(f"\n## before: the regular expressions of {commit}")
    for file, part in SETS.values():
        rows = read_labelled(DATA / file)
        read = [old.understand(r.message, bool(r.context.results), bool(r.context.query or r.context.source),
                               r.context.photo) for r in rows]  # fmt: skip
        right = np.array([i.kind == r.intent for i, r in zip(read, rows)], dtype=float)
        knew = np.array([i.kind == r.intent for i, r in zip(read, rows) if r.intent in known], dtype=float)
        wiped = sum(i.kind == "reset_profile" and r.intent != "reset_profile" for i, r in zip(read, rows))
        every, of_known = bootstrap(right), bootstrap(knew)
        print(
            f"{file} ({part}): intent accuracy {every.mean:.3f} ({every.low:.3f}-{every.high:.3f}); on the "
            f"{len(known)} intents it knew {of_known.mean:.3f} ({of_known.low:.3f}-{of_known.high:.3f}, {len(knew)} "
            f"messages); the profile wiped on {wiped} messages that did not ask for it"
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def turns(catalog: str, limit: int, rounds: int) -> None:
    from vlm4rec_agent.assistant import Conversation
    from vlm4rec_agent.assistant.dialogue import DialogueManager
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.settings import Settings
    from vlm4rec_agent.tools import ShopTools

    home = Path(tempfile.mkdtemp(prefix="vlm4rec-bench-understanding-"))
    engine = Engine(Settings(home=home, learn_heads=False))
    engine.ingest(catalog, limit=limit)
    manager = DialogueManager(ShopTools(engine))
    manager.respond(Conversation(user_id="warm"), "hello")  # the classifier is fitted here, once
    ms: list[float] = []
    for round_number in range(rounds):
        conversation = Conversation(user_id=f"bench-{round_number}")
        for message in TURNS:
            start = time.perf_counter()
            manager.respond(conversation, message)
            ms.append(1000 * (time.perf_counter() - start))
    print(
        f"\nwhole offline turns ({len(ms)} over {rounds} conversations of {len(TURNS)}, {limit} items): "
        f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms (target: p50 under 50 ms)"
    )
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", help="a catalog to time whole turns on (e.g. ../shared/data/clothing/labels.csv)")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", metavar="COMMIT", help="also score the regular expressions of this commit")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS), help="which labelled sets")
    args = parser.parse_args()

    from vlm4rec_agent.assistant.understanding import understanding_for
    from vlm4rec_agent.encoding import make_encoder
    from vlm4rec_agent.evaluation.understanding_eval import read_labelled, score
    from vlm4rec_agent.settings import Settings

    settings = Settings()
    start = time.perf_counter()
    understanding = understanding_for(make_encoder(settings), settings.home / "cache" / "intents")
    understanding.read("warm up")
    print(f"encoder loaded and classifier fitted in {time.perf_counter() - start:.1f} s")
    ms: list[float] = []
    for name, (file, part) in SETS.items():
        if name not in args.sets:
            continue
        result = score(understanding, read_labelled(DATA / file))
        report(f"{file} ({part})", result)
        ms += result.ms
    print(
        f"\nreading a message: p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms "
        f"over {len(ms)} messages"
    )
    if args.before:
        before(args.before)
    if args.turns:
        turns(args.turns, args.limit, args.rounds)


if __name__ == "__main__":
    main()
