"""An ingest in the background, owned by the engine: the app answers while the catalog goes in.

Items become searchable as each group is stored, so a shopper can start within seconds of the
page opening; the page shows the progress. A catalog ingested before is skipped in a moment.
:meth:`IngestJob.cancel` (the engine calls it when it closes) stops the ingest after the batch
in hand; what was stored is kept, and the next ingest goes on from there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from .errors import EngineClosed, Vlm4recError
from .ingest import IngestReport

# Runs the ingest: given where to report progress and the event that asks it to stop.
RunIngest = Callable[[Callable[[int, int], None], threading.Event], IngestReport]

log = logging.getLogger(__name__)


class IngestJob:
    def __init__(self, run: RunIngest, source: str | Path):
        self._run_ingest = run
        self.source = Path(source)
        self.done = 0
        self.total = 0
        self.report: IngestReport | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        # A daemon: a process that is stopping does not wait for a photo being grounded (the
        # engine waits for any write in progress before it closes, and admits none after).
        self._thread = threading.Thread(target=self._run, name="vlm4rec-ingest", daemon=True)

    def start(self) -> IngestJob:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the ingest to end; True when it has."""
        self._thread.join(timeout)
        return not self.running

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _run(self) -> None:
        try:
            self.report = self._run_ingest(self._progress, self._cancel)
            log.info("%s", self.report.summary())
        except EngineClosed:
            log.info("ingest of %s stopped: the engine closed", self.source)
        except Vlm4recError as error:
            self.error = str(error)
            log.error("could not ingest %s: %s", self.source, error)
        except Exception as error:  # the app must keep serving what is already stored
            self.error = f"{type(error).__name__}: {error}"
            log.exception("ingest of %s failed", self.source)

    def status(self) -> str:
        if self.error:
            return f"Adding {self.source.name} failed: {self.error}"
        if self.running:
            if not self.total:
                return f"Reading {self.source.name}…"
            return f"Adding {self.source.name}: {self.done:,} of {self.total:,} new items grounded and stored…"
        if self.report is not None:
            return self.report.summary()
        return ""
