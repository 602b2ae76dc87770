"""Open Chroma: embedded and persistent under ``VLM4REC_HOME``, or a server when a host is set."""

from __future__ import annotations

import logging

import chromadb
from chromadb.config import Settings as ChromaSettings

from ..errors import StoreError
from ..settings import Settings

log = logging.getLogger(__name__)


def open_client(settings: Settings) -> chromadb.ClientAPI:
    """A Chroma client for the configured store. Telemetry is always off."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        headers = {}
        if settings.chroma_token is not None:
            headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host,
                port=settings.chroma_port,
                ssl=settings.chroma_ssl,
                headers=headers,
                settings=chroma_settings,
            )
        except Exception as error:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.store_location}: {error}",
                "start it with `chroma run --path DIR --port PORT`, or unset VLM4REC_CHROMA_HOST to use the embedded store",
            ) from error
    try:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as error:
        raise StoreError(
            f"cannot open the store at {settings.chroma_path}: {error}",
            "set VLM4REC_HOME to a folder you can write to",
        ) from error
