"""vlm4rec-agent: VLM-grounded product attributes, search and recommendation with explanations.

The library core is :class:`Engine`; the CLI (``vlm4rec``), the app and the agent tools are thin
faces on it. Importing this package is cheap: heavy parts load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Engine", "Settings", "Filters", "__version__"]


def __getattr__(name: str):
    if name == "Engine":
        from .engine import Engine

        return Engine
    if name == "Settings":
        from .settings import Settings

        return Settings
    if name == "Filters":
        from .retrieval import Filters

        return Filters
    raise AttributeError(f"module 'vlm4rec_agent' has no attribute {name!r}")
