"""The Hugging Face Space: the folder it is built into, and the demo catalog it downloads."""

from __future__ import annotations

import importlib.util
import io
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from PIL import Image

from vlm4rec_agent.demo_catalog import prepare_clothing_demo
from vlm4rec_agent.errors import Vlm4recError

REPO = Path(__file__).resolve().parents[2]


def demo_zip(path: Path) -> Path:
    """A zip laid out like clothing-dataset-small: <top>/<split>/<label>/<photo>.jpg."""
    with zipfile.ZipFile(path, "w") as zipped:
        for label, colour in (("dress", (200, 30, 35)), ("t-shirt", (40, 80, 200)), ("shoes", (20, 20, 22))):
            for n in range(4):
                buffer = io.BytesIO()
                Image.new("RGB", (60, 80), colour).save(buffer, "JPEG")
                zipped.writestr(f"clothing-dataset-small-master/train/{label}/{label}-{n}.jpg", buffer.getvalue())
        zipped.writestr("clothing-dataset-small-master/README.md", "CC0")
    return path


@pytest.fixture
def file_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()


def test_the_demo_catalog_is_downloaded_once_and_ingests_as_it_is(file_server, tmp_path, engine):
    served, url, requests = file_server
    demo_zip(served / "clothing.zip")
    catalog = prepare_clothing_demo(tmp_path / "demo", per_label=3, url=f"{url}/clothing.zip")
    rows = catalog.read_text().splitlines()
    assert rows[0] == "id,label,image" and len(rows) == 1 + 3 * 3
    assert "t-shirt/t-shirt-0,t-shirt,images/t-shirt/t-shirt-0.jpg" in rows
    assert prepare_clothing_demo(tmp_path / "demo", per_label=3, url=f"{url}/clothing.zip") == catalog
    assert len(requests) == 1  # the second call found the catalog
    report = engine.ingest(catalog)
    assert report.added == 9 and engine.get_item("t-shirt/t-shirt-0").attributes.category == "t-shirt"


def test_a_failed_download_is_a_clear_error(file_server, tmp_path):
    _, url, _ = file_server
    with pytest.raises(Vlm4recError, match="cannot download the demo catalog"):
        prepare_clothing_demo(tmp_path / "demo", url=f"{url}/missing.zip")
    assert not (tmp_path / "demo" / "labels.csv").exists()


@pytest.mark.slow
def test_the_space_folder_is_complete(tmp_path):
    spec = importlib.util.spec_from_file_location("space_build", REPO / "spaces" / "build.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    out = builder.build(tmp_path / "space")
    front = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and front["python_version"] == "3.11"
    requirements = (out / "requirements.txt").read_text().splitlines()
    [wheel] = [line for line in requirements if line.endswith(".whl")]
    assert (out / wheel).is_file() and "download.pytorch.org/whl/cpu" in requirements[0]
    names = zipfile.ZipFile(out / wheel).namelist()
    assert "vlm4rec_agent/prompts/ground_product.v1.txt" in names and "vlm4rec_agent/prompts/assistant.v1.txt" in names
    assert "vlm4rec_agent/tools/shop.py" in names
    assert not any(n.startswith(("tools/", "prompts/")) for n in names)  # no generic top-level names
    app_source = (out / "app.py").read_text()
    assert "prepare_clothing_demo" in app_source and "VLM4REC_GROUNDER_FALLBACK" in app_source
