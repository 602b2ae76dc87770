"""`python app.py` stopped with SIGTERM (what `docker stop` and hosting platforms send) in the middle
of a background ingest: it exits at once and cleanly, and the store holds whole groups only.

How long it takes is measured by ``bench/shutdown.py``; here the exit must come without a traceback
and leave nothing half-written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from chroma_server import free_port
from tests.hardening.conftest import check_store
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def write_catalog(folder, draw, n: int):
    rows = []
    for i in range(n):
        draw(folder / "images" / f"p{i}.jpg", (i * 7 % 255, 90, 200 - i % 150))
        rows.append({"id": f"p{i}", "title": f"Product {i}", "image": f"images/p{i}.jpg"})
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


@pytest.mark.slow
def test_sigterm_during_an_ingest_stops_the_app_cleanly(tmp_path, draw, model_cache, encoder, grounder):
    catalog = write_catalog(tmp_path / "catalog", draw, 200)
    home, port = tmp_path / "home", free_port()
    env = {**os.environ, "VLM4REC_HOME": str(home), "VLM4REC_MODEL_CACHE": str(model_cache)}
    app = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), "--catalog", str(catalog), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, status = time.monotonic() + 180, ""
        while time.monotonic() < deadline:  # up, and the ingest has stored its first groups
            try:
                status = Client(f"http://127.0.0.1:{port}", verbose=False).predict(api_name="/status")
                if re.search(r"\*\*Catalog:\*\* (6[4-9]|[7-9]\d|1\d\d) items", status):
                    break
            except (httpx.HTTPError, OSError, ValueError):
                pass
            time.sleep(0.5)
        assert "Adding items.jsonl" in status, status  # mid-way through the ingest
        app.send_signal(signal.SIGTERM)
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "Traceback" not in out, err[-2000:]
    with Engine(Settings(home=home, model_cache=model_cache), encoder=encoder, grounder=grounder) as engine:
        stored = check_store(engine)  # whole records, sound vectors, each found by its own vector
        assert 0 < len(stored) < 200
        report = engine.ingest(catalog)  # the next start goes on from there
        assert report.unchanged == len(stored) and report.added == 200 - len(stored)
