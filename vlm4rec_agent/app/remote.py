"""The tools as HTTP API and MCP endpoints: who each call acts for, and what it is answered.

One wrapper makes every endpoint (Gradio serves each ``gr.api`` function over HTTP and, when
asked, MCP). It

- finds who a call acts for from its ``Authorization`` header (:mod:`vlm4rec_agent.access`) and
  puts that shopper in ``user_id``, so a call without the shopper's token never reaches them;
- answers in the "this is data" envelope (:mod:`vlm4rec_agent.data_envelope`), which says who
  the call acted for and why, when that is not who it named;
- turns each picture's path on the server into a URL the app serves (a page-sized copy, named by
  a hash), so a remote agent can see it and never learns the server's folders;
- refuses a user's mistake as one line (a Gradio error), logged as one line.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable
from typing import Any

import gradio as gr
from pydantic import BaseModel

from ..access import Access
from ..data_envelope import envelope
from ..errors import Vlm4recError

log = logging.getLogger(__name__)
IMAGES_ROUTE = "/images"  # where the app serves page-sized copies of catalog photos (see web.py)


def gradio_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """The same function, with a user's mistake shown as a Gradio error (one line, no traceback)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Vlm4recError as error:
            log.info("refused %s: %s", function.__name__, error)
            raise gr.Error(str(error), print_exception=False) from None

    return wrapper


def root_url(request: gr.Request | None) -> str:
    """The address the caller reached the app at (behind a proxy: the one it was forwarded from)."""
    if request is None:
        return ""
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or ""
    scheme = headers.get("x-forwarded-proto") or (request.request.url.scheme if request.request else "http")
    return f"{scheme.split(',')[0].strip()}://{host.split(',')[0].strip()}" if host else ""


def served_images(data: Any, serve: Callable[[str], str], base: str) -> Any:
    """``data`` (a result's JSON) with every ``image`` path replaced by the URL that serves its copy."""
    if isinstance(data, dict):
        return {
            key: f"{base}{IMAGES_ROUTE}/{serve(value)}"
            if key == "image" and isinstance(value, str) and value
            else served_images(value, serve, base)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [served_images(value, serve, base) for value in data]
    return data


class RemoteTools:
    """Makes the endpoints; ``thumbnail`` gives the file name of a photo's page-sized copy."""

    def __init__(self, access: Access, thumbnail: Callable[[str], str]):
        self.thumbnail = thumbnail
        self._caller = gradio_errors(access.caller)  # a refused credential is a one-line Gradio error

    def endpoint(self, function: Callable[..., BaseModel]) -> Callable[..., str]:
        """``function`` as an endpoint: same name, arguments and docstring (what MCP clients read),
        plus the request Gradio passes in; its answer is the envelope as JSON text."""
        signature = inspect.signature(function)
        acts_for = "user_id" in signature.parameters
        safe = gradio_errors(function)

        request_parameter = inspect.Parameter(
            "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
        )
        full = signature.replace(parameters=[*signature.parameters.values(), request_parameter], return_annotation=str)

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> str:
            arguments = full.bind(*args, **kwargs).arguments  # Gradio passes the request as the last argument
            request = arguments.pop("request", None)
            about: dict[str, str] = {}
            if acts_for:
                caller = self._caller(arguments.get("user_id", ""), _authorization(request))
                arguments["user_id"] = caller.user
                about = {"shopper": caller.user, "access": caller.note}
            result = safe(**arguments).model_dump(mode="json")
            return envelope(served_images(result, self.thumbnail, root_url(request)), **about)

        call.__signature__ = full  # type: ignore[attr-defined]
        call.__annotations__ = {**typing.get_type_hints(function), "request": gr.Request, "return": str}
        return call


def _authorization(request: gr.Request | None) -> str | None:
    return request.headers.get("authorization") if request is not None else None
