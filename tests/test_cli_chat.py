"""`vlm4rec chat`: the assistant in a terminal, in process and as the installed command."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vlm4rec_agent.cli import main
from vlm4rec_agent.cli_chat import plain, read_line


@pytest.fixture
def chat(tmp_path, monkeypatch, model_cache, encoder, capsys, small_catalog):
    """`vlm4rec chat ARGS` in this process over a store of the small catalog; lines in, JSON answers out."""
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    assert main(["ingest", str(small_catalog)]) == 0
    capsys.readouterr()

    def run(lines: list[str], *args: str) -> list[dict]:
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
        assert main(["chat", "--json", *args]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    return run


def test_a_conversation_in_json_with_a_like_a_photo_refinement_and_a_reset_that_waits(chat, product_image):
    photo = product_image("mine.jpg", colour=(52, 148, 62))
    answers = chat(
        [
            "show me dresses",
            "the second one looks great",
            json.dumps({"message": "find something like this", "photo": str(photo)}),
            "in red",
            "reset my profile",
            "yes",
            "undo",
        ],
        "--user",
        "ann",
    )
    assert [a["intent"] for a in answers] == [
        "search", "like", "photo_similar", "refine", "reset_profile", "confirm", "undo",
    ]  # fmt: skip
    search, like, photo_turn, refine, asked, reset, undone = answers
    assert set(search["results"][:2]) == {"red-dress", "blue-dress"} and search["liked"] == []
    assert like["liked"] == [search["results"][1]] and like["results"] == search["results"]
    assert photo_turn["results"][0] == "green-vase" and "Items like it" in photo_turn["reply"]
    assert refine["results"] and set(refine["results"]) <= {"red-dress", "red-skirt"}  # the red ones among them
    assert "Narrowing the items like your photo to red" in refine["reply"]
    assert asked["liked"] == like["liked"] and "Say “yes”" in asked["reply"]  # nothing forgotten before the yes
    assert reset["liked"] == [] and undone["liked"] == like["liked"]
    assert all("**" not in a["reply"] for a in answers)  # plain text, not Markdown


def test_the_profile_is_kept_across_runs_with_a_user_and_not_without(chat):
    chat(["dresses", "like #1"], "--user", "bea")
    [again] = chat(["remind me what I picked"], "--user", "bea")
    assert again["intent"] == "profile" and len(again["liked"]) == 1
    [guest] = chat(["remind me what I picked"])
    assert guest["liked"] == [] and "empty" in guest["reply"]


def test_bad_lines_get_a_one_line_answer_and_the_chat_goes_on(chat, tmp_path):
    answers = chat(['{"message": "hi", ', json.dumps({"message": "x", "photo": str(tmp_path / "no.jpg")}), "hello"])
    assert [a["intent"] for a in answers] == ["unreadable", "unreadable", "greet"]
    assert "line 1 starts with '{' but is not JSON" in answers[0]["reply"]
    assert f"no photo file at {tmp_path / 'no.jpg'}" in answers[1]["reply"]


def test_reading_lines_and_plain_text():
    assert read_line("in blue", 1) == ("in blue", None)
    with pytest.raises(ValueError, match="photo must be a file path"):
        read_line('{"message": "x", "photo": 3}', 4)
    assert plain("Liked #2 *Linen dress*. **1.** a \\*star\\*") == "Liked #2 “Linen dress”. 1. a *star*"


@pytest.mark.slow
def test_the_installed_command_chats_over_standard_input(tmp_path, small_catalog, model_cache, encoder):
    env = {**os.environ, "VLM4REC_HOME": str(tmp_path / "home"), "VLM4REC_MODEL_CACHE": str(model_cache)}
    beside = Path(os.sys.executable).with_name("vlm4rec")
    command = [str(beside)] if beside.exists() else [shutil.which("vlm4rec") or "vlm4rec"]
    assert (
        subprocess.run([*command, "ingest", str(small_catalog), "--no-progress"], env=env, timeout=300).returncode == 0
    )
    done = subprocess.run(
        [*command, "chat", "--user", "cy", "--json"],
        input="oak dining table\nkeep number 1\nrecommend something\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    search, like, recommended = (json.loads(line) for line in done.stdout.splitlines())
    assert search["results"][0] == "oak-table" and like["liked"] == ["oak-table"]
    assert recommended["intent"] == "recommend" and recommended["results"][0] == "oak-chair"
