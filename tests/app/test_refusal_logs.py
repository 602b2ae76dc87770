"""A refused tool call is one line on the server's console, never a traceback (issue "Trust",
hole 9): probing an app used to print 33 lines per refusal, and API searches of an empty catalog
printed a traceback too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chroma_server import free_port
from remote_clients import JsonClient, mcp_calls

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_refused_calls_are_logged_one_line_each_over_http_mcp_and_the_page(tmp_path, model_cache, encoder):
    port = free_port()
    env = {**os.environ, "VLM4REC_HOME": str(tmp_path / "home"), "VLM4REC_MODEL_CACHE": str(model_cache)}
    app = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), "--port", str(port), "--mcp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    refused = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = JsonClient(url)
        calls = [
            (("red dress", 3, "", ""), "/search_catalog"),  # the catalog is empty
            (("alice", "nope"), "/like_item"),
            (("",), "/show_profile"),
            (("/etc/passwd", ""), "/describe_image"),
        ]
        for args, name in calls:
            with pytest.raises(Exception) as error:
                client.predict(*args, api_name=name)
            refused.append(str(error.value))

        async def probe(session):
            return await session.call_tool("describe_image", {"image": "../../secret.png"})

        assert mcp_calls(url, probe).isError
    finally:
        app.send_signal(signal.SIGTERM)
        out = app.communicate(timeout=60)[0]
    assert "catalog 'catalog' is empty" in refused[0] and "user id is empty" in refused[2], refused
    assert "Traceback" not in out and 'File "' not in out, out[-3000:]
    lines = [line for line in out.splitlines() if "refused" in line]
    assert len(lines) == 5, out[-3000:]
    assert all(line.startswith("INFO vlm4rec_agent.app.remote: refused ") for line in lines), lines
