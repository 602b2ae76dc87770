"""Swappable parts by name: the built-ins, registered in code, and other packages' plugins.

A package adds a grounder, a text encoder, a scorer or an image encoder by declaring an entry point in one of four
groups (in its ``pyproject.toml``); the entry point's name is what the setting names, and the
object it points at is a factory:

==========================  =========================  ==========================================
group                       chosen by                  factory
==========================  =========================  ==========================================
``vlm4rec.grounders``       ``VLM4REC_GROUNDER``       ``factory(settings) -> Grounder``
``vlm4rec.encoders``        ``VLM4REC_ENCODER``        ``factory(settings) -> TextEncoder``
``vlm4rec.scorers``         ``VLM4REC_SCORER``         ``factory(parameter, settings) -> Scorer``
``vlm4rec.image_encoders``  ``VLM4REC_IMAGE_ENCODER``  ``factory(settings) -> ImageEncoder``
==========================  =========================  ==========================================

The rules, the same for the four kinds:

- Plugins are found with :func:`importlib.metadata.entry_points` and imported only when chosen:
  listing them reads package metadata, and a broken plugin breaks nothing until it is used.
- Built-in names are reserved. Choosing a name that a plugin also registers, or that two
  packages register, is a one-line error naming the packages; other names still work.
- A plugin that cannot be imported, that is not a factory, whose factory fails with anything but
  one of this project's errors, or that returns something lacking the protocol's members, is a
  one-line error naming its package. A factory's own :class:`Vlm4recError` is shown as it is.
- An unknown name is an error that lists every available name, plugins included.

One entry point per part and no hook machinery: each group needs only "name -> factory", so the
standard library's entry points do what simonw/llm does with pluggy, with less to learn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import ConfigurationError, Vlm4recError

log = logging.getLogger(__name__)

GROUNDERS_GROUP = "vlm4rec.grounders"
ENCODERS_GROUP = "vlm4rec.encoders"
SCORERS_GROUP = "vlm4rec.scorers"
IMAGE_ENCODERS_GROUP = "vlm4rec.image_encoders"


def _package(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return dist.name if dist is not None else point.value.split(":")[0]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


@dataclass(frozen=True)
class Part:
    """A factory found by name; ``package`` is the plugin's distribution, None for a built-in."""

    name: str
    factory: Callable[..., Any]
    package: str | None = None

    @property
    def origin(self) -> str:
        return "built in" if self.package is None else f"from the package {self.package!r}"


class Registry:
    """The parts of one kind: built-ins registered with :meth:`register`, plugins from ``group``.

    ``members`` are the attributes a built part must have (the protocol's); ``setting`` is how a
    user chooses one, for the messages.
    """

    def __init__(self, kind: str, group: str, setting: str, members: Sequence[str]):
        self.kind, self.group, self.setting, self.members = kind, group, setting, tuple(members)
        self._builtins: dict[str, Callable[..., Any]] = {}
        self._points: dict[str, list[EntryPoint]] | None = None
        self._lock = threading.Lock()

    # --- names -----------------------------------------------------------------------------
    def register(self, name: str, factory: Callable[..., Any]) -> None:
        """Register a built-in part (its name is then reserved)."""
        self._builtins[name] = factory

    def builtin_names(self) -> list[str]:
        return sorted(self._builtins)

    def plugin_names(self) -> list[str]:
        return sorted(self._entry_points())

    def names(self) -> list[str]:
        """Every name that can be chosen, built-ins and plugins."""
        return sorted(set(self._builtins) | set(self._entry_points()))

    def is_plugin(self, name: str) -> bool:
        return name in self._entry_points() and name not in self._builtins

    def refresh(self) -> None:
        """Look for plugins again (after installing one into a running process)."""
        with self._lock:
            self._points = None

    def _entry_points(self) -> dict[str, list[EntryPoint]]:
        with self._lock:
            if self._points is None:
                found: dict[str, list[EntryPoint]] = {}
                for point in entry_points(group=self.group):
                    found.setdefault(point.name, []).append(point)
                self._points = found
            return self._points

    # --- lookup ----------------------------------------------------------------------------
    def get(self, name: str) -> Part | None:
        """The part called ``name``, or None when nothing is; importing a plugin happens here."""
        points = self._entry_points().get(name, [])
        packages = sorted({_package(p) for p in points})
        if name in self._builtins and points:
            raise ConfigurationError(
                f"the {self.kind} {name!r} is built in, and the package {packages[0]!r} registers a plugin of "
                f"that name too ({self.group})",
                f"built-in names are reserved: uninstall {packages[0]} or ask its authors to rename its entry point",
            )
        if name in self._builtins:
            return Part(name, self._builtins[name])
        if not points:
            return None
        if len(packages) > 1:
            raise ConfigurationError(
                f"the {self.kind} {name!r} is registered by more than one package: {', '.join(packages)}",
                "uninstall all but one of them",
            )
        return Part(name, self._load(name, points[0]), packages[0])

    def require(self, name: str) -> Part:
        part = self.get(name)
        if part is None:
            raise self.unknown(name)
        return part

    def unknown(self, name: str) -> ConfigurationError:
        return ConfigurationError(
            f"unknown {self.kind} {name!r}", f"set {self.setting} to one of: {', '.join(self.names())}"
        )

    def _load(self, name: str, point: EntryPoint) -> Callable[..., Any]:
        package = _package(point)
        try:
            factory = point.load()
        except Exception as error:  # ImportError, a syntax error, anything the plugin's import raises
            raise ConfigurationError(
                f"cannot load the {self.kind} plugin {name!r} from the package {package!r} "
                f"({point.value}): {_first_line(error)}",
                f"reinstall or upgrade {package}, or set {self.setting} to another {self.kind}",
            ) from error
        if not callable(factory):
            raise ConfigurationError(
                f"the {self.kind} plugin {name!r} from the package {package!r} is not a factory "
                f"({point.value} is a {type(factory).__name__})",
                f"its entry point in {self.group} must name a function or class",
            )
        return factory

    # --- building --------------------------------------------------------------------------
    def build(self, part: Part, *args: Any) -> Any:
        """Call the part's factory; a plugin's failure becomes a one-line error naming its package."""
        if part.package is None:
            return part.factory(*args)
        try:
            built = part.factory(*args)
        except Vlm4recError:
            raise  # the plugin says what is wrong in this project's own terms
        except Exception as error:
            raise ConfigurationError(
                f"the {self.kind} plugin {part.name!r} from the package {part.package!r} failed to start: "
                f"{_first_line(error)}",
                f"check its settings and documentation, or set {self.setting} to another {self.kind}",
            ) from error
        missing = [m for m in self.members if not hasattr(built, m)]
        if missing:
            raise ConfigurationError(
                f"the {self.kind} plugin {part.name!r} from the package {part.package!r} returned an object of type "
                f"{type(built).__name__}, which lacks {', '.join(missing)}",
                f"a {self.kind} needs {', '.join(self.members)}; tell the package's authors",
            )
        log.info("%s %r comes from the package %s", self.kind, part.name, part.package)
        return built
