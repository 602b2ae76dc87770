"""Errors a user can cause and fix. Each carries what went wrong and what to do about it.

Faces (CLI, app, agent tools) show ``str(error)``, one line, never a traceback.
"""

from __future__ import annotations


class Vlm4recError(Exception):
    """Base class: ``message`` says what was wrong, ``hint`` what to do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class NotFoundError(Vlm4recError):
    """An item, user or file that does not exist."""


class InvalidInputError(Vlm4recError):
    """A query, id, image or catalog that cannot be used as given."""


class ConfigurationError(Vlm4recError):
    """A setting that names something unknown or unusable."""


class StoreError(Vlm4recError):
    """A store cannot be used: the vector store or the ratings database is unreachable, or the
    vector store was built by an incompatible encoder."""


class EngineClosed(Vlm4recError):
    """The engine was closed (the app is stopping); nothing more is done with it."""


class MissingExtraError(ConfigurationError, ModuleNotFoundError):
    """A face whose optional dependencies are not installed; the hint names the extra that installs them.

    Also a ``ModuleNotFoundError``, so that code probing for an optional part with
    ``except ImportError`` goes on working.
    """
