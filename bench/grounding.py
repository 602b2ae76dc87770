"""Cost of VLM grounding: the transformers path by batch size, the OpenAI path by concurrency.

    python bench/grounding.py                      # tiny offline models on the CPU
    python bench/grounding.py --device cuda        # the same on a GPU
    python bench/grounding.py --model DIR_OR_ID    # a real model (needs its weights)

The tiny models have random weights (they exist to run the real code path offline), so their
timings are the overhead of the pipeline (processor, chat template, generate, decode), not of a
real VLM: a real one adds its size on top. The OpenAI part runs against a local fake server that
takes --delay seconds per answer, so it measures the client's concurrency alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image


def photos(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (400 + 7 * i, 500), ((37 * i) % 255, 90, 160)) for i in range(n)]


def bench_transformers(model: str, label: str, device: str, batch_sizes: list[int], n: int, tokens: int) -> None:
    from vlm4rec_agent.grounding.prompt import load_prompt
    from vlm4rec_agent.grounding.protocol import GroundingInput
    from vlm4rec_agent.grounding.transformers_vlm import TransformersGrounder

    inputs = [GroundingInput(p, text="Linen summer dress, red") for p in photos(n)]
    start = time.perf_counter()
    grounder = TransformersGrounder(model, load_prompt(), device=device, max_new_tokens=tokens)
    grounder.load()
    print(f"\n{label} on {device}: load {time.perf_counter() - start:.2f} s, {tokens} new tokens per answer")
    grounder.ground(inputs[:1])  # warm-up
    for size in batch_sizes:
        grounder.batch_size = size
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            grounder.ground(inputs)
            runs.append(time.perf_counter() - start)
        best = min(runs)
        print(
            f"  batch {size:>3}: {1000 * best / n:8.1f} ms per image  {n / best:7.1f} images/s  (median {statistics.median(runs):.2f} s for {n})"
        )


def bench_openai(delay: float, n: int, concurrencies: list[int]) -> None:
    from vlm4rec_agent.grounding.openai_api import OpenAIGrounder
    from vlm4rec_agent.grounding.prompt import load_prompt
    from vlm4rec_agent.grounding.protocol import GroundingInput
    from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply, scripted

    answer = json.dumps({"category": "dress", "colors": ["red"], "description": "A red dress."})
    inputs = [GroundingInput(p) for p in photos(n)]
    print(f"\nopenai grounder against a local server answering in {delay:.2f} s, {n} images:")
    with FakeOpenAIServer(scripted(Reply(content=answer, delay=delay))) as server:
        for concurrency in concurrencies:
            grounder = OpenAIGrounder(server.url, "fake", load_prompt(), concurrency=concurrency)
            server.max_in_flight = 0
            start = time.perf_counter()
            grounder.ground(inputs)
            took = time.perf_counter() - start
            ideal = n * delay / concurrency
            print(f"  concurrency {concurrency:>3}: {took:6.2f} s (N x delay / concurrency = {ideal:5.2f} s), "
                  f"{server.max_in_flight} in flight at most")  # fmt: skip
            grounder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", help="a real model id or folder instead of the tiny ones")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--delay", type=float, default=0.25)
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    if args.model:
        bench_transformers(args.model, args.model, args.device, sizes, args.images, args.tokens)
    else:
        from vlm4rec_agent.testing.tiny_vlm import build_tiny_vlm

        with tempfile.TemporaryDirectory() as folder:
            for family in ("llava", "idefics3"):
                start = time.perf_counter()
                path = build_tiny_vlm(family, Path(folder) / family)
                print(f"\ntiny {family}: built offline in {time.perf_counter() - start:.2f} s")
                bench_transformers(
                    str(path), f"tiny {family} (random weights)", args.device, sizes, args.images, args.tokens
                )
    bench_openai(args.delay, args.images, [1, 4, 16])


if __name__ == "__main__":
    main()
