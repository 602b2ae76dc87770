"""Grounders by name. ``VLM4REC_GROUNDER`` picks one; other modules register theirs here."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigurationError
from ..settings import Settings
from .protocol import Grounder

GrounderFactory = Callable[[Settings], Grounder]
_FACTORIES: dict[str, GrounderFactory] = {}


def register_grounder(name: str, factory: GrounderFactory) -> None:
    _FACTORIES[name] = factory


def available_grounders() -> list[str]:
    return sorted(_FACTORIES)


def make_grounder(settings: Settings) -> Grounder:
    factory = _FACTORIES.get(settings.grounder)
    if factory is None:
        raise ConfigurationError(
            f"unknown grounder {settings.grounder!r}",
            f"set VLM4REC_GROUNDER (or --grounder) to one of: {', '.join(available_grounders())}",
        )
    return factory(settings)


def _basic(settings: Settings) -> Grounder:
    from .basic import BasicGrounder

    return BasicGrounder()


register_grounder("basic", _basic)
