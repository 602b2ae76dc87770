"""A throwaway PostgreSQL server on 127.0.0.1, in a temporary folder, for tests.

    server = PostgresServer().start()        # initdb + pg_ctl start, on a free port (about 2 s)
    url = server.create_database("shop")     # postgresql+psycopg://vlm4rec@127.0.0.1:PORT/shop
    server.stop()                            # and its folder is removed

The binaries (``initdb``, ``pg_ctl``) are looked up on ``PATH``, then in Debian's
``/usr/lib/postgresql/*/bin`` (``apt-get install postgresql``). ``initdb`` refuses to run as
root, so as root the server runs as the ``postgres`` user (``runuser``), in a folder it owns.
Authentication is ``trust``: for tests on this machine only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from chroma_server import free_port

USER = "vlm4rec"


class PostgresServerError(RuntimeError):
    """The server could not be made or started."""


def postgres_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(os.path.realpath(on_path)).parent] if on_path else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def missing_reason() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin): apt-get install postgresql"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed: pip install 'vlm4rec-agent[postgres]'"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        return "running as root, initdb needs the `postgres` user and `runuser` to run as it"
    return None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class PostgresServer:
    """One ``postgres`` process with its own data folder and port; stop() removes the folder."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.folder: Path | None = None
        self._bin = postgres_bin_dir()

    @property
    def data(self) -> Path:
        assert self.folder is not None, "start() the server first"
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 120.0) -> None:
        if self._bin is None:
            raise PostgresServerError(missing_reason() or "PostgreSQL is not installed")
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_postgres, str(self._bin / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            log = self.folder / "server.log" if self.folder else None
            tail = log.read_text(errors="replace")[-1500:] if log and log.is_file() else ""
            raise PostgresServerError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}\n{tail}")

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """Make a new cluster in a temporary folder and start it; returns once it accepts connections."""
        # Under /tmp itself: pytest's own temporary folders are private to the user running it.
        self.folder = Path(tempfile.mkdtemp(prefix="vlm4rec-postgres-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        try:
            self._run(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C", "--no-sync"
            )
            options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            log = str(self.folder / "server.log")
            self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", f"{timeout:g}", "start")
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            raise
        return self

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; its SQLAlchemy URL."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if self.folder is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
