"""vlm4rec-agent: VLM-grounded product attributes, search and recommendation with explanations.

The library core is :class:`Engine`; the CLI (``vlm4rec``), the app and the agent tools are thin
faces on it. Importing this package is cheap: heavy parts load on first use.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

# Installed, ``prompts/`` and ``tools/`` are subpackages (pyproject's package-dir maps them in). In a
# source checkout they stand beside this folder: when this package is imported from the checkout
# itself (``python app.py`` from the repository root puts it first on the path), it finds them there
# too, so the checkout works as it is, whether or not it is installed, and with no links.
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "tools" / "shop.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821 - a package's module has __path__
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
