"""How long `python app.py` takes to stop on SIGTERM (what `docker stop` and hosting platforms send).

    python bench/shutdown.py [--runs 3] [--items 300]

Each run starts the app on a generated catalog in a fresh home, waits until the page answers and
(for "ingesting") the background ingest has stored its first groups, sends SIGTERM, and times
the moment the process has exited. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]


def write_catalog(folder: Path, n: int) -> Path:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        image = Image.new("RGB", (160, 160), "white")
        ImageDraw.Draw(image).rectangle((32, 32, 128, 128), fill=(i * 7 % 255, 90, 200 - i % 150))
        image.save(folder / "images" / f"p{i}.jpg")
        rows.append({"id": f"p{i}", "title": f"Product {i}", "image": f"images/p{i}.jpg"})
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(catalog: Path | None, models: Path, ingesting: bool) -> float:
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        env = {**os.environ, "VLM4REC_HOME": home, "VLM4REC_MODEL_CACHE": str(models), "HF_HUB_OFFLINE": "1"}
        command = [sys.executable, str(REPO / "app.py"), "--port", str(port)]
        if catalog is not None:
            command += ["--catalog", str(catalog)]
        app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    status = Client(f"http://127.0.0.1:{port}", verbose=False).predict(api_name="/status")
                except Exception:
                    time.sleep(0.5)
                    continue
                stored = int(re.search(r"\*\*Catalog:\*\* ([\d,]+) items", status).group(1).replace(",", ""))
                if not ingesting or (stored >= 64 and "Adding" in status):
                    break
                time.sleep(0.5)
            start = time.perf_counter()
            app.send_signal(signal.SIGTERM)
            app.wait(60)
            return time.perf_counter() - start
        finally:
            if app.poll() is None:
                app.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--models", default=str(Path.home() / ".vlm4rec" / "models"), help="the ONNX export's folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        catalog = write_catalog(Path(scratch) / "catalog", args.items)
        for label, given, ingesting in (("idle", None, False), ("ingesting", catalog, True)):
            seconds = [one_run(given, Path(args.models), ingesting) for _ in range(args.runs)]
            print(f"SIGTERM -> exit, {label:9}: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
                  f"({', '.join(f'{s:.2f}' for s in seconds)})")  # fmt: skip


if __name__ == "__main__":
    main()
