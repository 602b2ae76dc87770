"""The README's Python example runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.shared_data
@pytest.mark.slow
def test_readme_python_example_runs(shared_data, tmp_path, monkeypatch, model_cache, capsys):
    text = README.read_text("utf-8")
    block = re.search(r"<!-- the test suite runs this block.*?-->\s*```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its tested Python example"
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    monkeypatch.chdir(README.parent)  # the example's paths are relative to the repository root
    if not Path("../shared/data/ikea/items.jsonl").exists():
        pytest.skip("the example reads ../shared/data relative to the repository root")
    exec(compile(block.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "50 added" in out and "Shares" in out


def test_relative_links_in_the_docs_point_at_files_that_exist():
    repo = Path(__file__).resolve().parents[1]
    pages = [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(repo)} -> {target}")
    assert not broken, broken
