"""One launched app per test module: the real `serve()`, a generated catalog ingested in the background."""

from __future__ import annotations

import pytest

from chroma_server import free_port
from vlm4rec_agent.app import serve
from vlm4rec_agent.settings import Settings


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
