"""The Gradio app: chat with photos, explained results, profiles, and the tools over MCP.

Its names are imported on first use, so that ``vlm4rec_agent.app.options`` stays light.
"""

from importlib import import_module

_EXPORTS = {"ShopApp": "handlers", "build_app": "ui", "main": "launch", "serve": "launch"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
