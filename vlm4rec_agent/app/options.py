"""The app's command-line options, shared by ``python app.py`` and ``vlm4rec serve``.

Kept apart from the app itself so that building the ``vlm4rec`` parser never imports Gradio
(seconds of start-up that every other command would pay).
"""

from __future__ import annotations

import argparse

from ..settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", help="a catalog to ingest in the background at start (VLM4REC_APP_CATALOG)")
    parser.add_argument("--limit", type=int, help="ingest only the first N items of --catalog")
    parser.add_argument(
        "--mcp", action="store_true", default=None, help="also serve the tools over MCP (VLM4REC_MCP_SERVER)"
    )
    parser.add_argument(
        "--host", help="address to listen on (VLM4REC_APP_HOST, else GRADIO_SERVER_NAME; default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, help="port (VLM4REC_APP_PORT, else GRADIO_SERVER_PORT; default 7860)")


def settings_from(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    overrides = {
        "app_catalog": args.catalog,
        "mcp_server": args.mcp,
        "app_host": args.host,
        "app_port": args.port,
    }
    values = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=values) if base else Settings(**values)
