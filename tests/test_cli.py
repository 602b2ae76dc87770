"""The command line, in process (fast) and as the installed `vlm4rec` command (the real entry point)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vlm4rec_agent.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch, model_cache, encoder, capsys):
    """Run `vlm4rec ARGS` in this process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def ingested(cli, small_catalog):
    code, out, _ = cli("ingest", str(small_catalog))
    assert code == 0, out
    return cli


def test_ingest_prints_a_summary_and_the_time_by_stage(cli, small_catalog):
    code, out, err = cli("ingest", str(small_catalog))
    assert code == 0 and err == ""
    assert "10 items read; 10 added, 0 updated, 0 unchanged, 0 skipped" in out
    assert "time by stage: hash" in out
    code, out, _ = cli("ingest", str(small_catalog), "--json")
    assert json.loads(out)["unchanged"] == 10


def test_search_table_and_json(ingested):
    code, out, _ = ingested("search", "red linen dress", "--k", "3")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["#", "id", "title", "score", "why"]
    assert lines[1].split()[:2] == ["1", "red-dress"] and "Matches your search" in lines[1]
    assert len(lines) == 5  # two dresses, then one other type, said below the table
    assert lines[4] == "Only 2 items of the type dress match; the others shown are other types."
    code, out, _ = ingested("search", "red linen dress", "--k", "3", "--json")
    page = json.loads(out)
    data = page["results"]
    assert [d["rank"] for d in data] == [1, 2, 3] and [d["fits"] for d in data] == [True, True, False]
    assert data[0]["id"] == "red-dress" and data[0]["reasons"] and data[0]["attributes"]["category"] == "dress"
    assert page["note"] == lines[4] and page["understood"]["category"] == "dress" and page["query"] == "red linen dress"


def test_search_for_nothing_the_catalog_holds_says_so(ingested):
    code, out, _ = ingested("search", "asdfgh qwerty", "--json")
    page = json.loads(out)
    assert code == 0 and page["results"] == []
    assert page["note"].startswith("Nothing in the catalog fits “asdfgh qwerty”. It holds, for example:")
    code, out, _ = ingested("search", "asdfgh qwerty")
    assert out.strip() == page["note"]


def test_like_dislike_recommend_profile_explain_reset(ingested):
    assert ingested("like", "oak-table", "--user", "alice")[0] == 0
    code, out, _ = ingested("dislike", "grey-sofa", "-u", "alice")
    assert out.strip() == "alice: 1 liked, 1 disliked"
    code, out, _ = ingested("recommend", "--user", "alice", "--k", "3", "--json")
    ids = [d["id"] for d in json.loads(out)]
    assert ids[0] == "oak-chair" and not {"oak-table", "grey-sofa"} & set(ids)
    code, out, _ = ingested("profile", "--user", "alice")
    assert "liked     oak-table" in out and "disliked  grey-sofa" in out
    code, out, _ = ingested("explain", "oak-chair", "--user", "alice")
    assert "scandinavian" in out
    code, out, _ = ingested("reset", "--user", "alice")
    assert out.strip() == "forgot 2 ratings of alice"


def test_similar_show_and_stats(ingested, product_image):
    code, out, _ = ingested("similar", "oak-table", "--k", "2", "--json")
    assert json.loads(out)[0]["id"] == "oak-chair"
    code, out, _ = ingested("similar", "--image", str(product_image(colour=(50, 150, 60))), "--k", "2")
    assert code == 0 and "your photo" in out
    code, out, _ = ingested("show", "white-lamp")
    assert "basic grounder" in out and "category   lamp" in out
    code, out, _ = ingested("stats", "--json")
    stats = json.loads(out)
    assert stats["items"] == 10 and stats["users"] == 0 and stats["encoder"].endswith("all-MiniLM-L6-v2")


def test_describe_says_it_is_the_basic_grounder(cli, product_image):
    code, out, _ = cli("describe", str(product_image(colour=(200, 30, 35))), "--text", "linen dress")
    assert code == 0
    assert "basic grounder" in out and "no vision-language model" in out
    assert "category   dress" in out and "colour     red" in out
    code, out, _ = cli("describe", str(product_image(colour=(200, 30, 35))), "--json")
    record = json.loads(out)
    assert record["grounder"] == "basic" and record["attributes"]["colors"] == ["red"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "lamp"], "error: the catalog 'catalog' is empty"),
        (["recommend", "--user", "bob"], "error: the catalog 'catalog' is empty"),
        (["describe", "/no/such/photo.jpg"], "error: image file not found"),
        (["ingest", "/no/such/catalog.jsonl"], "error: catalog not found"),
        (["--collection", "x", "stats"], "error: invalid setting: collection"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_errors_after_ingest(ingested):
    assert ingested("like", "nope", "--user", "a")[2].startswith("error: no item 'nope' in the catalog")
    assert ingested("recommend", "--user", "ghost")[2].startswith("error: no ratings for user 'ghost'")
    code, _, err = ingested("search", "  ")
    assert code == 2 and "query is empty" in err
    code, _, err = ingested("similar")
    assert code == 2 and "give either an item id or a photo" in err and "--image PHOTO" in err


def test_options_work_before_or_after_the_command(ingested, tmp_path):
    other = str(tmp_path / "elsewhere")
    assert json.loads(ingested("--home", other, "stats", "--json")[1])["items"] == 0
    assert json.loads(ingested("stats", "--home", other, "--json")[1])["items"] == 0
    assert json.loads(ingested("stats", "--json")[1])["items"] == 10


def test_settings_command_lists_every_variable(cli):
    code, out, _ = cli("settings", "--json")
    values = json.loads(out)
    assert values["VLM4REC_GROUNDER"] == "basic" and values["VLM4REC_ENCODER"] == "all-MiniLM-L6-v2"
    assert values["VLM4REC_HOME"].endswith("home")


# --- the installed command ----------------------------------------------------------------
def vlm4rec_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("vlm4rec")
    found = str(beside_python) if beside_python.exists() else shutil.which("vlm4rec")
    return [found] if found else [sys.executable, "-m", "vlm4rec_agent"]


@pytest.mark.slow
def test_installed_command_round_trip_without_tracebacks(tmp_path, small_catalog, model_cache, encoder):
    env = {**os.environ, "VLM4REC_HOME": str(tmp_path / "home"), "VLM4REC_MODEL_CACHE": str(model_cache)}

    def run(*args):
        return subprocess.run(vlm4rec_command() + list(args), env=env, capture_output=True, text=True, timeout=300)

    ingest = run("ingest", str(small_catalog), "--no-progress")
    assert ingest.returncode == 0, ingest.stderr
    assert "10 added" in ingest.stdout
    like = run("like", "blue-dress", "--user", "zoe")
    assert like.returncode == 0
    rec = run("recommend", "--user", "zoe", "--json")
    assert rec.returncode == 0 and json.loads(rec.stdout)[0]["id"] != "blue-dress"
    bad = run("like", "nope", "--user", "zoe")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.startswith("error: no item")
    usage = run("frobnicate")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_the_app_starts_from_app_py_or_vlm4rec_serve_with_the_same_options(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--help"])
    assert stopped.value.code == 0 and "--catalog" in capsys.readouterr().out
    repo = Path(__file__).resolve().parents[1]
    shown = subprocess.run(
        [sys.executable, str(repo / "app.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0 and "--catalog" in shown.stdout and "--mcp" in shown.stdout


def test_commands_other_than_serve_never_import_gradio():
    # Building the parser (with `serve`'s options) must not pay Gradio's seconds of import.
    code = "import sys; from vlm4rec_agent.cli import build_parser; build_parser(); print('gradio' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "False"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """`vlm4rec ... | head`: once the reader has closed the pipe, no "internal error" line."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "VLM4REC_HOME": str(tmp_path / "home")}
    child = subprocess.Popen([sys.executable, "-m", "vlm4rec_agent", "settings"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    child.stdout.close()  # before the command writes: its first write finds no reader
    err = child.stderr.read()
    assert child.wait(timeout=120) == 141, err
    assert err == ""


def test_describe_several_photos_prints_a_list_in_order_and_one_photo_its_record(cli, product_image):
    red, blue = product_image("red.jpg", colour=(200, 30, 35)), product_image("blue.jpg", colour=(40, 80, 200))
    code, out, _ = cli("describe", str(blue), str(red), str(blue), "--json")
    records = json.loads(out)
    assert code == 0 and isinstance(records, list) and len(records) == 3
    assert [r["attributes"]["colors"][0] for r in records] == ["blue", "red", "blue"]
    single = json.loads(cli("describe", str(red), "--json")[1])
    assert isinstance(single, dict) and single == records[1]  # one photo: exactly the record, not a list of one
    code, out, _ = cli("describe", str(red), str(blue))
    blocks = out.rstrip("\n").split("\n\n")
    assert code == 0 and [b.splitlines()[0] for b in blocks] == [str(red), str(blue)]
    assert all(b.splitlines()[1].startswith("Grounded by the basic grounder") for b in blocks)
    assert "colour     blue" in blocks[1]


def test_describe_several_photos_refuses_text_and_a_bad_photo_prints_nothing(cli, product_image, tmp_path):
    red = str(product_image("red.jpg"))
    code, out, err = cli("describe", red, red, "--text", "linen dress")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --text describes one photo, and 2 were given")
    code, out, err = cli("describe", red, str(tmp_path / "missing.jpg"), red, "--json")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: photo 2 of 3: image file not found: missing.jpg (fix that photo or leave it out)")
