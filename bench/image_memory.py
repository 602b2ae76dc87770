"""Photos that cost memory: the launched app's peak RSS while describe_image calls arrive together.

    python bench/image_memory.py [--calls 8] [--before COMMIT] [--before-calls 4]

The app runs in its own process (``serve()``, as ``python app.py`` runs it) on loopback, with an
empty catalog and the basic offline grounder. For each photo below, N threads post it at once to
``POST /gradio_api/call/describe_image`` as a data: URL, and the app's peak resident memory
(VmHWM, reset through ``/proc/PID/clear_refs`` before each round) is read once all have answered:

- a 1024x768 PNG (the working size), twice: every request thread has then grounded a photo, so
  the grounder's own buffers are made before the large photos come;
- the issue's photo: a WebP of 16383x7000 pixels (about 300 KB), 1.8 GB to decode;
- a 10-megapixel WebP, at the byte budget of photos from outside (160 MB to decode), three times;
- a 39.9-megapixel PNG, just under their pixel limit (160 MB to decode), three times (the first
  round of a large photo also grows the process once: glibc's heaps, numpy's caches).

``--before COMMIT`` runs the same rounds against that commit's code (a ``git worktree`` in a
temporary folder, removed afterwards), with ``--before-calls`` of the issue's photo at once: the
old code decodes each, so eight of them would need about 15 GB. Prints figures; asserts nothing.
Other processes on the machine do not change the app's own RSS, but they slow its decodes.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from many_shoppers import start_server
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))
from shoppers import ApiError, HttpApi  # noqa: E402

MB = 1e6


@dataclass
class Photo:
    name: str
    url: str  # a data: URL
    file_bytes: int
    rounds: int = 3
    huge: bool = False  # decoded whole by the old code: --before-calls at once


def photo(width: int, height: int, kind: str, **options) -> bytes:
    """A grey gradient with a red box: smooth enough to compress to little, real pixels to decode."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    ImageDraw.Draw(image).rectangle((width // 5, height // 7, width * 3 // 5, height * 6 // 7), fill=(200, 30, 35))
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def photos() -> list[Photo]:
    def made(name: str, data: bytes, kind: str, **more) -> Photo:
        return Photo(name, f"data:image/{kind};base64,{base64.b64encode(data).decode()}", len(data), **more)

    return [
        made("PNG 1024x768 (warm-up)", photo(1024, 768, "PNG"), "png", rounds=2),
        made(
            "WebP 16383x7000 (the issue's)",
            photo(16383, 7000, "WEBP", quality=50, method=0),
            "webp",
            rounds=1,
            huge=True,
        ),
        made("WebP 4000x2500 (10 MP)", photo(4000, 2500, "WEBP", quality=50, method=0), "webp"),
        made("PNG 8000x4990 (39.9 MP)", photo(8000, 4990, "PNG", compress_level=9), "png"),
    ]


def memory(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and its high-water mark (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) * 1024 / MB for key in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from the current RSS


def round_of(url: str, pid: int, picture: Photo, calls: int) -> tuple[str, str | None]:
    """``calls`` describe_image calls at once: a table row of figures, and the first refusal."""
    reset_peak(pid)
    before = memory(pid)["VmRSS"]
    outcomes: list[str] = []
    start = threading.Barrier(calls)

    def call() -> None:
        api = HttpApi(url, timeout=600)
        start.wait()
        try:
            api.predict(picture.url, "", api_name="describe_image")
            outcomes.append("described")
        except ApiError as error:
            outcomes.append(f"refused: {error}")
        finally:
            api.close()

    threads = [threading.Thread(target=call) for _ in range(calls)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    peak = memory(pid)["VmHWM"]
    kinds = sorted({o.split(":")[0] for o in outcomes})
    counts = ", ".join(f"{sum(o.startswith(k) for o in outcomes)} {k}" for k in kinds)
    line = (
        f"| {picture.name}, {picture.file_bytes / 1e3:,.0f} KB | {calls} | {counts} | {before:,.0f} MB | "
        f"{peak:,.0f} MB | +{peak - before:,.0f} MB | {seconds:.1f} s |"
    )
    return line, next((o for o in outcomes if o.startswith("refused")), None)


def run(tree: Path, label: str, calls: int, huge_calls: int, pictures: list[Photo]) -> None:
    home = Path(tempfile.mkdtemp(prefix="vlm4rec-bench-images-"))
    env = {
        **os.environ,
        "VLM4REC_HOME": str(home),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(tree),  # the app's code comes from this tree (run from it, it is first on sys.path)
    }
    server, url = start_server(env, 8, cwd=tree)
    try:
        print(f"\n{label}: the app (pid {server.pid}) started: {memory(server.pid)['VmRSS']:,.0f} MB")
        print("| photo | calls at once | answers | RSS before | peak RSS | peak - before | wall |")
        print("|---|---|---|---|---|---|---|")
        refusals = []
        for picture in pictures:
            for _ in range(picture.rounds):
                line, refused = round_of(url, server.pid, picture, huge_calls if picture.huge else calls)
                print(line, flush=True)
                if refused and refused not in refusals:
                    refusals.append(refused)
        for refused in refusals:
            print(refused)
    finally:
        server.terminate()
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8, help="describe_image calls at once, per photo")
    parser.add_argument("--before", help="also run the rounds against this commit's code (say, main)")
    parser.add_argument("--before-calls", type=int, default=4, help="with --before: calls of the issue's photo at once")
    args = parser.parse_args()
    pictures = photos()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} (other processes were running)")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    run(REPO, f"this tree ({commit.stdout.strip()})", args.calls, args.calls, pictures)
    if args.before:
        tree = Path(tempfile.mkdtemp(prefix="vlm4rec-before-")) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.before], check=True)
        try:
            run(tree, args.before, args.calls, args.before_calls, pictures)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=True)


if __name__ == "__main__":
    main()
