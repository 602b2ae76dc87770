"""Plugins: a tiny package, written here and installed with pip, adds a grounder, an encoder and a
scorer through entry points; the real ``vlm4rec`` command then uses them by name.

A second package does what plugins get wrong (a built-in's name, a module that does not import, a
factory that fails or makes the wrong thing), so that each mistake is seen as its one-line error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vlm4rec_agent.encoding import ENCODERS, make_encoder
from vlm4rec_agent.errors import ConfigurationError
from vlm4rec_agent.grounding.registry import GROUNDERS, available_grounders, make_grounder
from vlm4rec_agent.scoring import SCORERS, make_scorer

TOY_MODULE = '''
"""A toy plugin for vlm4rec: a grounder that reads the item's text, a bag-of-words encoder and a
nearest-liked-item scorer that takes a factor."""

import hashlib

import numpy as np

from vlm4rec_agent.grounding.protocol import BaseGrounder, GroundingFailure
from vlm4rec_agent.grounding.schema import Attributes, GroundingRecord
from vlm4rec_agent.scoring import ProfileScorer


class ToyGrounder(BaseGrounder):
    name, model_id, prompt_version = "toy", "toy-model-1", "toy-rules-1"

    def ground(self, inputs):
        outcomes = []
        for item in inputs:
            text = item.text or ""
            if "refuse" in text:
                outcomes.append(GroundingFailure("the toy grounder refuses this one"))
                continue
            words = text.lower().replace(".", " ").split()
            attributes = Attributes(category=words[-1] if words else None, description=f"Toy says: {text}")
            outcomes.append(GroundingRecord(attributes=attributes, grounder=self.name, model_id=self.model_id,
                                            prompt_version=self.prompt_version))
        return outcomes


class ToyEncoder:
    name, dim = "toy-bag-of-words-64", 64

    def encode(self, texts):
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts):
            for word in text.lower().replace(".", " ").split():
                row[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            row /= max(float(np.linalg.norm(row)), 1e-9)
        return rows


class ToyScorer(ProfileScorer):
    name = "toy-nearest"

    def __init__(self, factor, dislike_weight):
        super().__init__(dislike_weight)
        self.factor = factor

    def liked_scores(self, liked, candidates):
        return self.factor * np.maximum.reduceat(liked.stacked @ candidates.T, liked.starts, axis=0)


def make_grounder(settings):
    return ToyGrounder()


def make_encoder(settings):
    return ToyEncoder()


def make_scorer(parameter, settings):
    return ToyScorer(float(parameter or 1), settings.dislike_weight)
'''

TOY_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "vlm4rec-toy"
version = "0.1.0"

[tool.setuptools]
py-modules = ["vlm4rec_toy"]

[project.entry-points."vlm4rec.grounders"]
toy = "vlm4rec_toy:make_grounder"

[project.entry-points."vlm4rec.encoders"]
toy-bag = "vlm4rec_toy:make_encoder"

[project.entry-points."vlm4rec.scorers"]
toy-nearest = "vlm4rec_toy:make_scorer"
"""

BAD_MODULE = """
def not_a_grounder(settings):
    return object()


def crashes(settings):
    raise RuntimeError("the toy server is on fire")


CONSTANT = 3
"""

BAD_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "vlm4rec-bad"
version = "0.1.0"

[tool.setuptools]
py-modules = ["vlm4rec_bad"]

[project.entry-points."vlm4rec.grounders"]
basic = "vlm4rec_bad:not_a_grounder"
missing = "vlm4rec_bad_gone:make"
hollow = "vlm4rec_bad:not_a_grounder"
crashes = "vlm4rec_bad:crashes"
constant = "vlm4rec_bad:CONSTANT"

[project.entry-points."vlm4rec.scorers"]
toy-nearest = "vlm4rec_bad:crashes"
"""


def install(source: Path, pyproject: str, module_name: str, module: str, target: Path) -> Path:
    """Write a package and pip-install it (no index, no build isolation) into ``target``."""
    source.mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    (source / f"{module_name}.py").write_text(textwrap.dedent(module))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return target


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugin-toy")
    return install(root / "src", TOY_PYPROJECT, "vlm4rec_toy", TOY_MODULE, root / "site")


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugin-bad")
    return install(root / "src", BAD_PYPROJECT, "vlm4rec_bad", BAD_MODULE, root / "site")


@pytest.fixture
def plugins_on_path(monkeypatch):
    """Put installed plugin folders on sys.path for this test, and make the registries look again."""
    registries = (GROUNDERS, ENCODERS, SCORERS)

    def add(*folders: Path) -> None:
        for folder in folders:
            monkeypatch.syspath_prepend(str(folder))
        for registry in registries:
            registry.refresh()

    yield add
    for registry in registries:
        registry.refresh()


# --- in this process: the registry's rules ---------------------------------------------------------
def test_plugins_are_chosen_by_name_and_built_from_the_settings(toy_dir, plugins_on_path, settings):
    plugins_on_path(toy_dir)
    assert {"basic", "openai", "transformers", "toy"} <= set(available_grounders())
    assert GROUNDERS.is_plugin("toy") and not GROUNDERS.is_plugin("basic")
    grounder = make_grounder(settings.model_copy(update={"grounder": "toy"}))
    # A plugin grounder is cached like the built-in VLMs (and it closes with the engine).
    assert type(grounder).__name__ == "CachedGrounder" and grounder.name == "toy"
    grounder.close()
    encoder = make_encoder(settings.model_copy(update={"encoder": "toy-bag"}))
    assert encoder.name == "toy-bag-of-words-64" and encoder.encode(["a red dress"]).shape == (1, 64)
    scorer = make_scorer(settings, "toy-nearest:3")
    assert scorer.name == "toy-nearest" and scorer.factor == 3.0
    liked, candidates = np.eye(4, dtype=np.float32)[:1], np.eye(4, dtype=np.float32)
    assert scorer.score(liked, liked[:0], candidates).tolist() == [3.0, 0.0, 0.0, 0.0]


def test_unknown_names_list_the_plugins_too(toy_dir, plugins_on_path, settings):
    plugins_on_path(toy_dir)
    with pytest.raises(ConfigurationError, match="^unknown grounder 'llava'") as caught:
        make_grounder(settings.model_copy(update={"grounder": "llava"}))
    assert "one of: basic, openai, toy, transformers" in str(caught.value)
    with pytest.raises(
        ConfigurationError,
        match="unknown scorer 'best'.*hybrid, interests, max, mean, popularity, softmax, toy-nearest",
    ):
        make_scorer(settings, "best")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("basic", r"^the grounder 'basic' is built in, and the package 'vlm4rec-bad' registers a plugin of that name"),
        ("missing", r"^cannot load the grounder plugin 'missing' from the package 'vlm4rec-bad' \(vlm4rec_bad_gone:make\)"
                    r": ModuleNotFoundError: No module named 'vlm4rec_bad_gone' \(reinstall or upgrade vlm4rec-bad"),
        ("constant", r"^the grounder plugin 'constant' from the package 'vlm4rec-bad' is not a factory"),
        ("crashes", r"^the grounder plugin 'crashes' from the package 'vlm4rec-bad' failed to start: "
                    r"RuntimeError: the toy server is on fire"),
        ("hollow", r"^the grounder plugin 'hollow' from the package 'vlm4rec-bad' returned an object of type object, "
                   r"which lacks name, model_id, prompt_version, ground, lookup, close"),
    ],
)  # fmt: skip
def test_a_plugin_that_goes_wrong_is_one_line_naming_its_package(bad_dir, plugins_on_path, settings, name, message):
    plugins_on_path(bad_dir)
    with pytest.raises(ConfigurationError, match=message) as caught:
        make_grounder(settings.model_copy(update={"grounder": name}))
    assert "\n" not in str(caught.value)


def test_a_broken_plugin_breaks_nothing_until_it_is_chosen(bad_dir, toy_dir, plugins_on_path, settings):
    plugins_on_path(bad_dir, toy_dir)
    assert make_grounder(settings.model_copy(update={"grounder": "toy"})).name == "toy"
    assert make_scorer(settings, "mean").name == "mean"  # "basic" clashes, but other names are fine
    with pytest.raises(ConfigurationError, match="^the scorer 'toy-nearest' is registered by more than one package: "
                       "vlm4rec-bad, vlm4rec-toy"):  # fmt: skip
        make_scorer(settings, "toy-nearest")


# --- the installed command, in a fresh process -------------------------------------------------
def vlm4rec_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("vlm4rec")
    return [str(beside_python)] if beside_python.exists() else [sys.executable, "-m", "vlm4rec_agent"]


@pytest.mark.slow
def test_the_vlm4rec_command_uses_a_plugins_grounder_encoder_and_scorer(toy_dir, tmp_path, small_catalog, draw):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(toy_dir), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "VLM4REC_HOME": str(tmp_path / "home"),
        "VLM4REC_GROUNDER": "toy",
        "VLM4REC_ENCODER": "toy-bag",
        "VLM4REC_SCORER": "toy-nearest:2",
    }

    def run(*args: str):
        done = subprocess.run(vlm4rec_command() + list(args), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
        return done.stdout

    photo = draw(tmp_path / "photo.jpg", (200, 30, 35))
    record = json.loads(run("describe", str(photo), "--text", "A red summer dress", "--json"))
    assert (record["grounder"], record["model_id"], record["attributes"]["category"]) == ("toy", "toy-model-1", "dress")
    assert "Toy says: A red summer dress" in record["attributes"]["description"]
    assert "10 added" in run("ingest", str(small_catalog), "--no-progress")
    found = json.loads(run("search", "oak dining table scandinavian", "--k", "2", "--json"))
    assert found["results"][0]["id"] == "oak-table"
    run("like", "oak-table", "--user", "ann")
    picks = json.loads(run("recommend", "--user", "ann", "--k", "3", "--json"))
    assert picks[0]["id"] == "oak-chair" and "oak-table" not in [p["id"] for p in picks]
    stats = json.loads(run("stats", "--json"))
    assert (stats["encoder"], stats["grounder"], stats["items"]) == ("toy-bag-of-words-64", "toy", 10)
