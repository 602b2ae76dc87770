"""The optional parts of the package and the extra that installs each.

``pip install vlm4rec-agent`` is the core: the engine and the ``vlm4rec`` command. The faces with
heavy dependencies of their own come with extras, and a face whose extra is missing stops with
one line naming it, never a traceback:

- ``[app]``: the Gradio app (``python app.py``, ``vlm4rec serve``) and its MCP server;
- ``[agent]``: the LLM assistant and the LangChain tools;
- ``[eval]``: the chart of ``vlm4rec eval --compare``;
- ``[structured]``: a local VLM's answers held to the attributes' JSON schema (outlines);
- ``[all]``: all four.
"""

from __future__ import annotations

from importlib import import_module

from .errors import MissingExtraError

# extra -> the modules it brings (import names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "app": ("gradio",),
    "agent": ("langchain", "langchain_core", "langchain_openai"),
    "eval": ("matplotlib",),
    "structured": ("outlines",),
}


def install_hint(extra: str) -> str:
    return f"install it with: pip install 'vlm4rec-agent[{extra}]'"


def missing_extra(error: ModuleNotFoundError, extra: str, purpose: str) -> ModuleNotFoundError:
    """The error to raise for ``error``: a :class:`MissingExtraError` when the missing module is one
    that ``extra`` installs, else ``error`` itself (a module missing inside an installed package
    is a broken install, not hidden behind an install hint)."""
    missing = (error.name or "").partition(".")[0]
    if missing not in EXTRAS[extra]:
        return error
    found = MissingExtraError(f"{purpose} needs {missing}, which is not installed", install_hint(extra))
    found.name = missing
    return found


def require(extra: str, purpose: str, *modules: str) -> None:
    """Check that ``modules`` (by default every module of ``extra``) can be imported.

    Raises :class:`MissingExtraError` naming the extra when one is not installed. ``purpose`` is
    what needs it, as the subject of the message: "the app", "the LLM assistant", a module name.
    """
    for module in modules or EXTRAS[extra]:
        try:
            import_module(module)
        except ModuleNotFoundError as error:
            raise missing_extra(error, extra, purpose) from None
