"""``vlm4rec chat``: the shopping assistant in a terminal, one message per line.

A line is what the shopper says, or a JSON object ``{"message": "...", "photo": "PATH"}`` to
attach a photo. With ``--json`` each answer is one JSON object on one line, in order:
``intent``, ``reply`` (plain text), ``results`` (the ids now on screen, in order), ``liked`` and
``disliked`` (the shopper's item ids after the turn). ``--user`` keeps the profile across runs,
as a name does in the app; without it each run is a new guest. The assistant is the one
``VLM4REC_ASSISTANT`` chooses (offline unless a chat model is configured), with the app's tools.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path
from typing import IO

from .assistant import Conversation, Turn, make_assistant
from .engine import Engine
from .errors import Vlm4recError
from .store import validate_user_id
from .tools import ShopTools

_STRONG = re.compile(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*")
_EMPHASIS = re.compile(r"(?<!\\)\*(.+?)(?<!\\)\*")
_ESCAPED = re.compile(r"\\([\\`*_\[\]<>!|~#])")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", "-u", help="shopper's user id: keeps the profile across runs (default: a new guest)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per message")


def plain(markdown: str) -> str:
    """The assistant's Markdown as terminal text: bold as plain words, *what to say* in quotes,
    escaped characters as themselves."""
    return _ESCAPED.sub(r"\1", _EMPHASIS.sub(r"“\1”", _STRONG.sub(r"\1", markdown)))


def read_line(line: str, number: int) -> tuple[str, str | None]:
    """A line's message and photo path; a line that starts with '{' must be the JSON object."""
    if not line.lstrip().startswith("{"):
        return line, None
    try:
        data = json.loads(line)
    except ValueError as error:
        raise ValueError(f"line {number} starts with '{{' but is not JSON ({error.args[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
        raise ValueError(f'line {number}: a JSON line is an object like {{"message": "...", "photo": "PATH"}}')
    photo = data.get("photo")
    if photo is not None and not isinstance(photo, str):
        raise ValueError(f"line {number}: photo must be a file path (a string)")
    if photo and not Path(photo).is_file():
        raise ValueError(f"line {number}: no photo file at {photo}")
    return data.get("message", ""), photo or None


def run(args: argparse.Namespace, engine: Engine, lines: IO[str] | None = None, output: IO[str] | None = None) -> int:
    lines = lines if lines is not None else sys.stdin
    output = output if output is not None else sys.stdout
    user = validate_user_id(args.user) if args.user else f"guest-{uuid.uuid4().hex[:8]}"
    shop = ShopTools(engine, image_roots=[Path(Path.cwd().anchor)])  # a terminal's own files are its to show
    assistant = make_assistant(shop, engine.settings)
    conversation = Conversation(user_id=user)
    interactive = lines.isatty() and not args.json
    if interactive:
        print(f"Chatting as {user} with {assistant.description}. One message per line; Ctrl-D ends.", file=output)
    for number, line in enumerate(_prompted(lines, output, interactive), start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        try:
            message, photo = read_line(line, number)
            turn = _last(assistant.stream(conversation, message, photo))
        except ValueError as error:
            turn = Turn(text=f"Sorry, I could not read that: {error}.", intent="unreadable")
        except Vlm4recError as error:
            turn = Turn(text=f"Sorry, I could not do that: {error}.", intent="error")
        _print(output, args.json, turn, conversation, shop)
    return 0


def _prompted(lines: IO[str], output: IO[str], interactive: bool):
    while True:
        if interactive:
            print("> ", end="", file=output, flush=True)
        line = lines.readline()
        if not line:
            return
        yield line


def _last(turns) -> Turn:
    """A streamed answer's last, whole turn."""
    last = Turn(text="")
    for last in turns:  # noqa: B007 - the loop keeps the latest
        pass
    return last


def _print(output: IO[str], as_json: bool, turn: Turn, conversation: Conversation, shop: ShopTools) -> None:
    if not as_json:
        print(plain(turn.text) + "\n", file=output, flush=True)
        return
    profile = shop.show_profile(conversation.user_id)
    answer = {
        "intent": turn.intent,
        "reply": plain(turn.text),
        "results": [r.id for r in conversation.results],
        "liked": [i.id for i in profile.liked],
        "disliked": [i.id for i in profile.disliked],
    }
    print(json.dumps(answer, ensure_ascii=False), file=output, flush=True)
