"""The core runs without the extras, and a face whose extra is missing says which one to install.

The commands run in fresh interpreters in which Gradio, LangChain and matplotlib cannot be
imported: a ``sitecustomize`` puts ``None`` into ``sys.modules`` for them, as if they were not
installed, and an audit hook records every attempt to import them, so a core command that only
*tried* (and would pay seconds of start-up for it) is caught too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vlm4rec_agent.errors import MissingExtraError, Vlm4recError
from vlm4rec_agent.extras import EXTRAS, missing_extra, require

REPO = Path(__file__).resolve().parents[1]
VLM4REC = Path(sys.executable).with_name("vlm4rec")
EVERY_EXTRA = tuple(m for modules in EXTRAS.values() for m in modules) + ("gradio_client", "langgraph")

SITECUSTOMIZE = """
import atexit, json, os, sys

_blocked = [name for name in os.environ.get("BLOCKED_MODULES", "").split(",") if name]
_watched = os.environ["WATCHED_MODULES"].split(",")
sys.modules.update(dict.fromkeys(_blocked))  # `import gradio` now fails as if it were not installed
_attempts = set()


def _audit(event, args):
    if event == "import" and args[0].partition(".")[0] in _watched:
        _attempts.add(args[0].partition(".")[0])


def _write():
    with open(os.environ["IMPORT_ATTEMPTS"], "w") as out:
        json.dump(sorted(_attempts), out)


sys.addaudithook(_audit)
atexit.register(_write)
"""


@pytest.fixture
def without(tmp_path, model_cache):
    """Run a command with some modules uninstallable; returns (exit code, stdout, stderr, modules it tried)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, "utf-8")
    attempts = tmp_path / "attempts.json"

    def run(blocked: tuple[str, ...], *command: str, env: dict[str, str] | None = None):
        attempts.unlink(missing_ok=True)
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "BLOCKED_MODULES": ",".join(blocked),
            "WATCHED_MODULES": ",".join(EVERY_EXTRA),
            "IMPORT_ATTEMPTS": str(attempts),
            "VLM4REC_HOME": str(tmp_path / "home"),
            "VLM4REC_MODEL_CACHE": str(model_cache),
            **(env or {}),
        }
        done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=REPO, timeout=240)
        tried = json.loads(attempts.read_text()) if attempts.exists() else None
        return done.returncode, done.stdout, done.stderr, tried

    return run


CORE_SESSION = """
import sys
from vlm4rec_agent.cli import main

catalog, groups = sys.argv[1:3]
commands = [
    ["ingest", catalog, "--no-progress"],
    ["search", "red summer dress", "--k", "3"],
    ["like", "red-dress", "--user", "ann"],
    ["recommend", "--user", "ann", "--k", "3"],
    ["describe", catalog.replace("items.jsonl", "images/red-dress.jpg")],
    ["stats"],
    ["eval", "--items", catalog, "--groups", groups, "--representation", "text", "--seeds", "1"],
]
for argv in commands:
    code = main(argv)
    if code:
        sys.exit(f"vlm4rec {argv[0]} exited with {code}")
"""


@pytest.mark.slow
def test_the_core_commands_run_without_any_extra_and_never_try_one(without, small_catalog, encoder):
    for command in ([str(VLM4REC), "--help"], [str(VLM4REC), "settings"], [sys.executable, "-m", "vlm4rec_agent", "--help"]):  # fmt: skip
        code, out, err, tried = without(EVERY_EXTRA, *command)
        assert code == 0 and out and not err, (command, err)
        assert tried == [], f"{command[1:]} tried to import {tried}"
    groups = small_catalog.parent / "groups.jsonl"
    groups.write_text('{"id": "wardrobe", "items": ["red-dress", "red-skirt", "blue-dress", "navy-blazer"]}\n')
    code, out, err, tried = without(EVERY_EXTRA, sys.executable, "-c", CORE_SESSION, str(small_catalog), str(groups))
    assert code == 0, err
    assert "10 added" in out and "recall@10" in out
    assert tried == [], f"the core commands tried to import {tried}"


@pytest.mark.slow
def test_each_face_names_the_extra_it_needs(without, product_image):
    no_extras = EVERY_EXTRA
    photo = str(product_image())
    cases = [
        ([str(VLM4REC), "serve"], "[app]", {}),
        ([sys.executable, "app.py"], "[app]", {}),
        ([str(VLM4REC), "eval", "--items", "x.jsonl", "--groups", "g.jsonl", "--compare"], "[eval]", {}),
        (
            [str(VLM4REC), "describe", photo, "--grounder", "transformers"],
            "[structured]",
            {"VLM4REC_VLM_JSON_SCHEMA": "true"},
        ),
    ]
    for command, extra, env in cases:
        code, out, err, _ = without(no_extras, *command, env=env)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (command, err)
        assert lines[0].startswith("error: ") and f"pip install 'vlm4rec-agent{extra}'" in lines[0], lines
    # The LLM assistant, asked for, in an app that has Gradio but not LangChain:
    agent = EXTRAS["agent"] + ("langgraph",)
    code, _, err, _ = without(agent, sys.executable, "app.py", "--port", "0", env={"VLM4REC_ASSISTANT": "llm"})
    assert code == 2 and "the LLM assistant needs langchain" in err and "vlm4rec-agent[agent]" in err, err
    code, _, err, _ = without(agent, sys.executable, "-c", "import vlm4rec_agent.assistant.langchain_tools")
    assert code == 1 and err.strip().splitlines()[-1].startswith("vlm4rec_agent.errors.MissingExtraError: ")
    assert "langchain_tools needs langchain_core" in err and "vlm4rec-agent[agent]" in err


def test_a_missing_extra_is_a_users_error_and_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError) as caught:
        require("eval", "the chart")
    assert isinstance(caught.value, Vlm4recError) and isinstance(caught.value, ImportError)
    assert caught.value.name == "matplotlib"
    assert str(caught.value) == (
        "the chart needs matplotlib, which is not installed (install it with: pip install 'vlm4rec-agent[eval]')"
    )


def test_a_module_missing_inside_an_installed_extra_is_not_hidden_behind_an_install_hint():
    broken = ModuleNotFoundError("No module named 'fastapi'", name="fastapi")
    assert missing_extra(broken, "app", "the app") is broken
    found = missing_extra(ModuleNotFoundError("No module named 'gradio.utils'", name="gradio.utils"), "app", "the app")
    assert isinstance(found, MissingExtraError) and "[app]" in str(found)
