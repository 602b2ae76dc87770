"""One launched app per test module: the real `serve()`, a generated catalog ingested in the background;
and a headless Chromium for the browser tests."""

from __future__ import annotations

import shutil
import socket

import pytest

from vlm4rec_agent.app import serve
from vlm4rec_agent.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_app(tmp_path_factory, model_cache, encoder, catalog_writer):
    catalog = catalog_writer(tmp_path_factory.mktemp("app-catalog"))
    settings = Settings(
        home=tmp_path_factory.mktemp("app-home"),
        model_cache=model_cache,
        app_catalog=catalog,
        app_port=free_port(),
        mcp_server=True,
    )
    demo, app = serve(settings, block=False)
    assert app.job.wait(120) and app.job.report.added == 10, app.job.status()
    yield f"http://127.0.0.1:{settings.app_port}", app
    demo.close()
    app.close()


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
