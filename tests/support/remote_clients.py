"""The launched app, and clients of its HTTP API and MCP server that read the data envelope every answer is in."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gradio_client import Client
from PIL import Image

from chroma_server import free_port
from vlm4rec_agent.data_envelope import DATA_NOTE
from vlm4rec_agent.settings import Settings


@contextmanager
def launched_app(catalog: Path, home: Path, model_cache: Path, items: int, wait: float = 120, **settings) -> Iterator:
    """The real ``serve()`` on a free loopback port, once ``items`` items of ``catalog`` are in:
    (url, demo, app); both closed afterwards."""
    from vlm4rec_agent.app import serve

    chosen = Settings(home=home, model_cache=model_cache, app_catalog=catalog, app_port=free_port(), **settings)
    demo, app = serve(chosen, block=False)
    try:
        assert app.job.wait(wait) and app.job.report.added == items, app.job.status()
        yield f"http://127.0.0.1:{chosen.app_port}", demo, app
    finally:
        demo.close()
        app.close()


class JsonClient:
    """gradio_client, reading the data out of the envelope that every endpoint answers in;
    ``last`` is the whole last answer (who it acted for, and why)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None):
        self._client = Client(url, verbose=False, headers=headers)
        self.last: dict = {}

    def predict(self, *args, api_name: str):
        self.last = json.loads(self._client.predict(*args, api_name=api_name))
        assert self.last["note"] == DATA_NOTE
        return self.last["data"]


def photo_data_url(colour=(52, 148, 62)) -> str:
    image = Image.new("RGB", (160, 160), (255, 255, 255))
    image.paste(colour, (30, 30, 130, 130))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def mcp_calls(url: str, calls, token: str | None = None):
    """Run ``calls(session)`` in one MCP session with the app (with ``token`` as its bearer token)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def run():
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with streamablehttp_client(f"{url}/gradio_api/mcp/", headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await calls(session)

    return asyncio.run(run())


def tool_answer(result) -> dict:
    """An MCP tool's whole answer: the envelope."""
    assert not result.isError, result.content
    answer = json.loads(result.content[0].text)
    assert answer["note"] == DATA_NOTE
    return answer


def tool_json(result) -> dict:
    """An MCP tool's result: the data in its envelope."""
    return tool_answer(result)["data"]
