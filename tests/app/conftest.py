"""One launched app per test module: the real `serve()`, a generated catalog ingested in the background;
and a headless Chromium for the browser tests."""

from __future__ import annotations

import shutil

import pytest

from remote_clients import launched_app


@pytest.fixture(scope="module")
def running_app(tmp_path_factory, model_cache, encoder, catalog_writer):
    catalog = catalog_writer(tmp_path_factory.mktemp("app-catalog"))
    with launched_app(catalog, tmp_path_factory.mktemp("app-home"), model_cache, 10, mcp_server=True) as (url, _, app):
        yield url, app


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
