"""A real Chroma server (``chroma run``) on 127.0.0.1, started, killed and restarted by tests.

    server = ChromaServer(tmp_path / "chroma-data").start()
    ... VLM4REC_CHROMA_HOST=127.0.0.1 VLM4REC_CHROMA_PORT=server.port ...
    server.kill()      # gone at once, as after a crash
    server.start()     # back on the same folder and port
    server.stop()

The ``chroma`` command is looked up beside the running Python first (a virtual environment's
``bin``), then on ``PATH``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class ChromaServerError(RuntimeError):
    """The server could not be started (the ``chroma`` command is missing, or it exited)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chroma_command() -> str | None:
    beside_python = Path(sys.executable).with_name("chroma")
    return str(beside_python) if beside_python.exists() else shutil.which("chroma")


def is_listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class ChromaServer:
    """One ``chroma run --path PATH --port PORT`` process; the port stays the same across restarts."""

    def __init__(self, path: Path, port: int | None = None, log_path: Path | None = None):
        self.path = Path(path)
        self.port = port or free_port()
        self.log_path = log_path or self.path.parent / f"chroma-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ChromaServer:
        """Start the server and wait until it accepts connections."""
        command = chroma_command()
        if command is None:
            raise ChromaServerError("the `chroma` command is not installed")
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [command, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if self.process.poll() is not None:
                raise ChromaServerError(f"chroma run exited: {self.log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise ChromaServerError(f"chroma run did not listen on port {self.port} within {timeout:g} s")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-whatever, as in a crash; returns once the port is closed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        """A polite shutdown (SIGTERM), killed if it takes longer than 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
