"""One launched app per test module: the real `serve()`, a generated catalog ingested in the background."""

from __future__ import annotations

import pytest

from remote_clients import launched_app


@pytest.fixture(scope="module")
def running_app(tmp_path_factory, model_cache, encoder, catalog_writer):
    catalog = catalog_writer(tmp_path_factory.mktemp("app-catalog"))
    with launched_app(catalog, tmp_path_factory.mktemp("app-home"), model_cache, 10, mcp_server=True) as (url, _, app):
        yield url, app
