"""The shopping tools as LangChain tools, made from their one definition in ``tools/``.

:func:`langchain_tools` gives every tool as it is (``user_id`` is an argument, as for MCP
clients). :func:`session_tools` binds them to one shopper: ``user_id`` disappears from what the
model sees and is filled in by the app, so a model cannot read or change another shopper's
profile, whatever it is told.

Every result reaches the model as JSON inside an envelope that says it is data: catalog text
and VLM descriptions are written by others and may contain instructions, which the model must
not follow (the system prompt says so too). The typed result itself rides along as the tool
message's artifact, so the app shows results without reading them back from JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..data_envelope import envelope
from ..errors import Vlm4recError
from ..extras import missing_extra
from ..tools import ShopTools

try:
    from langchain_core.tools import StructuredTool, ToolException
    from langchain_core.utils.pydantic import get_fields
except ModuleNotFoundError as error:
    raise missing_extra(error, "agent", __name__) from None


def _argument_problems(bound: dict[str, Any]) -> Callable[[ValidationError], str]:
    """What the model is told when its arguments do not fit: one line per problem, nothing run."""

    def explain(error: ValidationError) -> str:
        problems = []
        for issue in error.errors():
            name = ".".join(str(part) for part in issue["loc"]) or "arguments"
            if issue["type"] == "extra_forbidden" and name in bound:
                problems.append(f"{name} cannot be given: this tool acts only for the shopper of this conversation")
            elif issue["type"] == "extra_forbidden":
                problems.append(f"{name} is not an argument of this tool")
            else:
                problems.append(f"{name}: {issue['msg']}")
        return "Nothing was done. " + "; ".join(problems) + "."

    return explain


def _runner(function: Callable[..., BaseModel], bound: dict[str, Any]) -> Callable[..., tuple[str, BaseModel]]:
    def run(**arguments: Any) -> tuple[str, BaseModel]:
        try:
            result = function(**arguments, **bound)
        except Vlm4recError as error:
            raise ToolException(str(error)) from None
        return envelope(result), result

    return run


class _CheckedTool(StructuredTool):
    """A StructuredTool that checks its arguments even when it takes none.

    LangChain skips validation for a tool without arguments, so ``reset_profile`` bound to a
    shopper would quietly run for them when a model called it with another ``user_id``.
    """

    def _to_args_and_kwargs(self, tool_input: str | dict, tool_call_id: str | None) -> tuple[tuple, dict]:
        if isinstance(tool_input, dict) and tool_input and not get_fields(self.args_schema):
            self.args_schema.model_validate(tool_input)  # refuses any argument: extra="forbid"
        return super()._to_args_and_kwargs(tool_input, tool_call_id)


def _tool(function: Callable[..., BaseModel], bound: dict[str, Any]) -> StructuredTool:
    described = StructuredTool.from_function(function, parse_docstring=True, error_on_invalid_docstring=False)
    schema = described.args_schema
    fields = {name: (f.annotation, f) for name, f in schema.model_fields.items() if name not in bound}
    # Unknown arguments are refused, not dropped: a model that names another shopper is told no.
    config = ConfigDict(extra="forbid")
    args_schema = create_model(f"{function.__name__}_arguments", __config__=config, **fields)
    return _CheckedTool(
        name=function.__name__,
        description=described.description,
        args_schema=args_schema,
        func=_runner(function, bound),
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_argument_problems(bound),
    )


def langchain_tools(shop: ShopTools) -> list[StructuredTool]:
    """Every shopping tool, with ``user_id`` as an argument where it has one."""
    return [_tool(f, {}) for f in shop.functions()]


def session_tools(shop: ShopTools, user_id: str) -> list[StructuredTool]:
    """Every shopping tool, acting for ``user_id`` only (the model never sees the argument)."""
    tools = []
    for function in shop.functions():
        takes_user = "user_id" in StructuredTool.from_function(function, parse_docstring=True).args
        tools.append(_tool(function, {"user_id": user_id} if takes_user else {}))
    return tools
