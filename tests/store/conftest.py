"""Rating stores for the store tests: the SQLite file by default, and a throwaway PostgreSQL server.

``ratings`` runs a test on both databases; the PostgreSQL case is marked ``slow`` and is skipped,
saying why, where PostgreSQL or psycopg is not installed.
"""

from __future__ import annotations

import uuid

import pytest

from postgres_server import PostgresServer, missing_reason
from vlm4rec_agent.store import SqlRatingStore


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session, started on first use (about 2 s)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A new, empty database on that server."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def ratings_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'ratings.sqlite').as_posix()}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def ratings(ratings_url):
    store = SqlRatingStore.open(ratings_url, "catalog")
    yield store
    store.close()
