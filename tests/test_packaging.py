"""The package builds complete from any checkout, and its core installs no face's dependencies.

The slow tests build from a ``git clone -c core.symlinks=false`` of this checkout's HEAD (as on
Windows), so they test what is committed: commit before running them.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
FACE_PACKAGES = re.compile(r"^(gradio|langchain[a-z0-9_.-]*|matplotlib)\b", re.I)  # only through an extra


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _in_a_git_checkout() -> bool:
    return shutil.which("git") is not None and (REPO / ".git").exists()


# --- quick checks of the source tree ----------------------------------------------------------
def test_every_subpackage_is_in_the_package_list():
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    mapped = setuptools["package-dir"]
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "vlm4rec_agent").rglob("__init__.py")}
    found |= {name for name, folder in mapped.items() if (REPO / folder / "__init__.py").is_file()}
    missing = sorted(found - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml, or the wheel lacks them"
    assert not sorted(listed - found), "pyproject.toml lists packages that do not exist"
    assert mapped == {"vlm4rec_agent.prompts": "prompts", "vlm4rec_agent.tools": "tools"}


@pytest.mark.skipif(not _in_a_git_checkout(), reason="not a git checkout")
def test_the_repository_holds_no_symbolic_links():
    links = [line.split("\t", 1)[1] for line in _git("ls-files", "-s").splitlines() if line.startswith("120000 ")]
    assert not links, f"symbolic links break clones without link support (Windows): {links}"


# --- a wheel and an sdist from a clone without links ----------------------------------------------
def _build_wheel(source: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = out.glob("vlm4rec_agent-*.whl")
    return wheel


def _package_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zipped:
        return {n for n in zipped.namelist() if ".dist-info/" not in n}


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if not _in_a_git_checkout():
        pytest.skip("builds from a git clone of this checkout, and this is not one")
    target = tmp_path_factory.mktemp("packaging") / "clone"
    _git("clone", "-q", "--no-hardlinks", "-c", "core.symlinks=false", str(REPO), str(target))
    assert _git("config", "core.symlinks", cwd=target).strip() == "false"
    return target


@pytest.fixture(scope="module")
def wheel(clone, tmp_path_factory) -> Path:
    return _build_wheel(clone, tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_the_wheel_holds_the_package_its_prompts_tools_and_data_and_nothing_else(wheel):
    files = _package_files(wheel)
    expected = {
        *(f"vlm4rec_agent/prompts/{p.name}" for p in (REPO / "prompts").glob("*.txt")),
        "vlm4rec_agent/prompts/__init__.py",
        "vlm4rec_agent/tools/__init__.py",
        "vlm4rec_agent/tools/shop.py",
        *(f"vlm4rec_agent/grounding/data/{p.name}" for p in (REPO / "vlm4rec_agent/grounding/data").iterdir()),
        "vlm4rec_agent/cli.py",
        "vlm4rec_agent/app/ui.py",
    }
    assert len(expected) > 8 and not expected - files, sorted(expected - files)
    assert all(name.startswith("vlm4rec_agent/") for name in files), sorted(files)  # no tests/, tools/, prompts/
    with zipfile.ZipFile(wheel) as zipped:
        links = [i.filename for i in zipped.infolist() if stat.S_ISLNK(i.external_attr >> 16)]
    assert not links


@pytest.mark.slow
def test_the_core_requires_no_face_and_each_extra_brings_its_own(wheel):
    with zipfile.ZipFile(wheel) as zipped:
        [metadata] = [n for n in zipped.namelist() if n.endswith(".dist-info/METADATA")]
        lines = zipped.read(metadata).decode("utf-8").splitlines()
    requires = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    core = [r for r in requires if "extra ==" not in r]
    assert core and not [r for r in core if FACE_PACKAGES.match(r)], core
    extras = {line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")}
    assert {"app", "agent", "eval", "structured", "all", "test"} <= extras

    def brought_by(extra: str) -> str:
        return " ".join(r for r in requires if f'extra == "{extra}"' in r)

    assert "gradio[mcp,oauth]" in brought_by("app") and "langchain-core" in brought_by("agent")
    assert "matplotlib" in brought_by("eval") and "outlines" in brought_by("structured")
    assert "[agent,app,eval,postgres,structured]" in brought_by("all")
    assert "License-Expression: Apache-2.0" in lines and "License-File: LICENSE" in lines
    with zipfile.ZipFile(wheel) as zipped:
        [licence] = [n for n in zipped.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert "Apache License" in zipped.read(licence).decode("utf-8")


@pytest.mark.slow
def test_the_installed_wheel_runs_its_command_and_finds_its_tools_and_prompts(wheel, tmp_path):
    target = tmp_path / "installed"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-compile",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The wheel's files first; its dependencies from this environment. Run outside the repository,
    # so that nothing is found in the checkout by accident.
    env = {**os.environ, "PYTHONPATH": str(target), "VLM4REC_HOME": str(tmp_path / "home")}
    for command in ([str(target / "bin" / "vlm4rec"), "--help"], [sys.executable, "-m", "vlm4rec_agent", "--help"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0 and "usage: vlm4rec" in done.stdout, done.stderr
    probe = (
        "import importlib.resources as r, vlm4rec_agent, vlm4rec_agent.tools as t\n"
        "from vlm4rec_agent.tools import TOOL_NAMES, ShopTools\n"
        "from vlm4rec_agent.grounding.prompt import load_prompt\n"
        "prompt = r.files('vlm4rec_agent.prompts').joinpath('assistant.v1.txt').read_text('utf-8')\n"
        "print(vlm4rec_agent.__file__, t.__file__, len(prompt) > 100, load_prompt('ground_product.v1').version)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    package, tools, prompt_read, version = done.stdout.split()
    assert Path(package).is_relative_to(target) and Path(tools).is_relative_to(target)
    assert prompt_read == "True" and version.startswith("ground_product.v1#")


@pytest.mark.slow
def test_the_sdist_leaves_the_tests_out_and_builds_the_same_wheel(clone, wheel, tmp_path):
    out = tmp_path / "sdist"
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)], cwd=clone, capture_output=True, text=True, check=True, timeout=300
    )
    sdist = out / done.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
        assert not [m.name for m in archive.getmembers() if m.issym() or m.islnk()]
        archive.extractall(tmp_path / "unpacked", filter="data")
    assert not [n for n in names if n.startswith("tests")], "tests ship in the sdist without their conftest"
    assert {"pyproject.toml", "README.md", "prompts/ground_product.v1.txt", "tools/shop.py"} <= set(names)
    [unpacked] = (tmp_path / "unpacked").iterdir()
    from_sdist = _build_wheel(unpacked, tmp_path / "wheel-from-sdist")
    assert _package_files(from_sdist) == _package_files(wheel)


def test_the_checkout_itself_finds_its_tools_and_prompts_without_an_editable_install(tmp_path):
    """`python app.py` from the repository root imports this folder's package, not an installed one:
    with a plain `pip install .` no editable finder maps prompts/ and tools/ into it."""
    code = (
        "import sys\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import vlm4rec_agent, vlm4rec_agent.tools\n"
        "from importlib import resources\n"
        "assert vlm4rec_agent.__file__.startswith(sys.argv[1]), vlm4rec_agent.__file__\n"
        "print(vlm4rec_agent.tools.ShopTools.__name__,\n"
        "      sorted(p.name for p in resources.files('vlm4rec_agent.prompts').iterdir() if p.suffix == '.txt'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPO)], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "ShopTools" and "'assistant.v1.txt'" in done.stdout
