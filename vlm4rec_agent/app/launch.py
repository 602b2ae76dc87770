"""Start the app: ``python app.py`` or ``vlm4rec serve`` (the same options).

Gradio is imported when the app starts, not with this module, so that both faces can say in one
line that the ``[app]`` extra is missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..command_errors import run_reporting_errors
from ..engine import Engine
from ..extras import require
from ..settings import Settings
from .handlers import ShopApp
from .options import add_arguments, settings_from

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)
CONCURRENCY_LIMIT = 8  # requests of one kind (one event) served at once; the rest wait in Gradio's queue
# Gradio recomputes its monitoring summary (a pandas table of up to 10,000 past events) after
# every event unless told otherwise: 10-26 ms of CPU per request, for a dashboard this app does
# not open. Every 1,000 events is plenty; a value set in the environment wins.
ANALYTICS_EVERY = "1000"


def _stop_promptly(demo: gr.Blocks) -> None:
    """SIGTERM (``docker stop``, a hosting platform) and Ctrl-C stop the app at once: the server
    stops without waiting for open connections (an idle browser tab keeps one open, which held the
    server for Gradio's 5 s timeout) and cuts them off, then the engine closes, instead of the
    process dying in the middle of a write."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread

    def interrupt(signum, frame):
        server = getattr(demo, "server", None)
        if server is not None:
            server.force_exit = True  # uvicorn's own "stop now": no wait for connections to finish
            # The requests still open (a tab's heartbeat stream) are cut off, on purpose: their
            # "cancelled" tracebacks say nothing a user needs to read.
            logging.getLogger("uvicorn.error").disabled = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def serve(
    settings: Settings,
    limit: int | None = None,
    block: bool = True,
    concurrency_limit: int = CONCURRENCY_LIMIT,
    notice: str | None = None,
) -> tuple[gr.Blocks, ShopApp]:
    """Build and launch the app; ``block=False`` returns at once with the page and its handlers.

    ``concurrency_limit`` is how many requests of one kind run at once (the rest queue).
    ``notice`` is a line for the page about what went wrong before it started (see ``ShopApp``).
    When it blocks, it returns once the server has stopped (Ctrl-C or SIGTERM) and the engine is
    closed; with ``block=False`` the caller stops both (``demo.close()``, ``app.close()``).
    """
    require("app", "the app")
    from starlette.middleware import Middleware

    from .ui import CSS, build_app
    from .web import AppGate, allowed_hosts

    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", ANALYTICS_EVERY)  # read when the queue is made
    engine = Engine(settings)
    demo = None
    try:
        # A setting the assistant refuses stops the start here, before any background work.
        app = ShopApp(engine, settings, notice=notice)
        if settings.app_catalog:
            app.job = engine.start_ingest(settings.app_catalog, limit=limit)
        engine.warm_up_in_background(then=getattr(app.assistant, "warm_up", None))
        demo = build_app(app)
        demo.queue(default_concurrency_limit=concurrency_limit)
        if block:
            _stop_promptly(demo)
        if settings.hf_login and not settings.hf_login_in_effect:
            log.warning(
                "VLM4REC_HF_LOGIN: signing in with Hugging Face works only in a Space; the page has no sign-in here"
            )
        hosts = allowed_hosts(settings)
        log.info(
            "answering to the hosts %s (VLM4REC_ALLOWED_HOSTS); tokens %s for API and MCP callers",
            ", ".join(hosts),
            "required" if settings.tokens_required else "not required",
        )
        demo.launch(
            app_kwargs={"middleware": [Middleware(AppGate, hosts=hosts, images=app.thumbnails.folder)]},
            server_name=settings.app_host,
            server_port=settings.app_port,
            mcp_server=settings.mcp_server,
            css=CSS,
            max_file_size=f"{settings.max_upload_mb}mb",
            allowed_paths=[str(app.thumbnails.folder)],  # page-sized copies only, never the catalog itself
            prevent_thread_lock=not block,
            quiet=not block,
        )
    except KeyboardInterrupt:  # stopped while the server was still starting
        if not block:
            engine.close()
            raise
    except BaseException:
        engine.close()
        raise
    if block:  # the server was asked to stop (Ctrl-C, SIGTERM)
        if demo is not None:
            demo.close()  # a no-op when launch() closed it already
        engine.close()
        _end_process_now()
    return demo, app


def _end_process_now() -> None:
    """End the process as soon as the server has stopped and the engine has closed.

    The engine has released what it owned: it waited for any write in progress and admits no
    other, so nothing is left half-written. What is left is the interpreter winding down the model
    libraries, which took 1.1-1.4 s here, and which aborts the process ("terminate called without
    an active exception") when a background ingest or warm-up is still inside PyTorch or
    onnxruntime. Work in hand is dropped; the next start goes on from what was stored.
    """
    if any(t.name.startswith("vlm4rec-") and t.is_alive() for t in threading.enumerate()):
        log.info("stopped; the ingest goes on from what was stored at the next start")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="The vlm4rec shopping assistant (a Gradio app).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    def run() -> int:
        serve(settings_from(args), limit=args.limit)
        return 0

    return run_reporting_errors(run, verbose=True)  # a bug in the app shows its traceback
