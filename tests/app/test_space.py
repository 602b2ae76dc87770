"""The Hugging Face Space: the folder it is built into, its bundled sample, the demo catalog it can\ndownload, and the Space started with no network."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from gradio_client import Client
from PIL import Image

from vlm4rec_agent.demo_catalog import prepare_clothing_demo
from vlm4rec_agent.errors import Vlm4recError
from vlm4rec_agent.images import open_image

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


def load_builder():
    spec = importlib.util.spec_from_file_location("space_build", REPO / "spaces" / "build.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder


@pytest.mark.slow
def test_the_space_folder_is_complete(tmp_path):
    out = load_builder().build(tmp_path / "space", sample_from=None)
    front = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and front["python_version"] == "3.11"
    requirements = (out / "requirements.txt").read_text().splitlines()
    [wheel] = [line for line in requirements if ".whl" in line]
    assert wheel.endswith(".whl[app,agent]") and "download.pytorch.org/whl/cpu" in requirements[0]
    names = zipfile.ZipFile(out / wheel.removesuffix("[app,agent]")).namelist()
    assert "vlm4rec_agent/prompts/ground_product.v1.txt" in names and "vlm4rec_agent/prompts/assistant.v1.txt" in names
    assert "vlm4rec_agent/tools/shop.py" in names
    assert not any(n.startswith(("tools/", "prompts/")) for n in names)  # no generic top-level names
    app_source = (out / "app.py").read_text()
    assert "prepare_clothing_demo" in app_source and "VLM4REC_GROUNDER_FALLBACK" in app_source
    assert "*.jpg filter=lfs" in (out / ".gitattributes").read_text()  # the Hub takes photos through LFS only
    assert not (out / "sample").exists()


def test_a_space_without_a_catalog_still_greets_and_says_why(engine, settings):
    from vlm4rec_agent.app import ShopApp

    app = ShopApp(engine, settings, notice="The demo catalog could not be prepared: no network.")
    assert "could not be prepared: no network" in app.greeting() and "catalog is empty" in app.greeting()
    assert "could not be prepared: no network" in app.status()


def test_the_status_line_says_when_the_basic_grounder_stands_in_for_a_vlm(settings, encoder, grounder, product_image):
    from vlm4rec_agent.app import ShopApp
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.grounding.protocol import BaseGrounder, GroundingFailure, GroundingInput
    from vlm4rec_agent.grounding.vlm import FallbackGrounder

    class Unloadable(BaseGrounder):
        name, model_id, prompt_version = "transformers", "some/vlm", "p1"

        def ground(self, inputs):
            failure = GroundingFailure("cannot load the VLM some/vlm", "check the network", kind="unusable")
            return [failure] * len(inputs)

    fallback = FallbackGrounder(Unloadable(), grounder)
    app = ShopApp(Engine(settings, encoder=encoder, grounder=fallback), settings)
    assert "transformers VLM `some/vlm`" in app.status()
    fallback.ground([GroundingInput(open_image(product_image()))])
    assert "basic, offline, standing in for the transformers VLM `some/vlm`" in app.status()
    assert "cannot load the VLM some/vlm" in app.status()


# --- the built Space, started with no network ------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def built_space(shared_data, tmp_path_factory):
    if not (shared_data / "clothing" / "labels.csv").is_file():
        pytest.skip(f"the clothing photos are not in {shared_data}")
    out = tmp_path_factory.mktemp("space") / "space"
    return load_builder().build(out, sample_from=shared_data / "clothing", per_label=1)


@contextmanager
def started_space(folder: Path, tmp_path: Path, model_cache: Path):
    """``python app.py`` in a Space folder, offline: no hub, and a download URL nothing answers."""
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "VLM4REC_SPACE_DATA": str(tmp_path / "data"),
        "VLM4REC_SPACE_CATALOG_URL": f"http://127.0.0.1:{free_port()}/clothing.zip",  # a closed port
        "VLM4REC_APP_HOST": "127.0.0.1",
        "VLM4REC_APP_PORT": str(port),
        "VLM4REC_MODEL_CACHE": str(model_cache),  # the session's ONNX export of the encoder
    }
    log = open(tmp_path / "space.log", "w")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "space.log").read_text()
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "space.log").read_text()
            time.sleep(0.5)
        yield url, Client(url, verbose=False)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_for_status(client: Client, done, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while not done(status := client.predict(api_name="/status")) and time.monotonic() < deadline:
        time.sleep(1)
    return status


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_built_space_bundles_a_cc0_sample_with_its_licence(built_space, shared_data):
    rows = list(csv.DictReader((built_space / "sample" / "labels.csv").open(encoding="utf-8")))
    labels = {r["label"] for r in csv.DictReader((shared_data / "clothing" / "labels.csv").open(encoding="utf-8"))}
    assert list(rows[0]) == ["id", "label", "kids", "image"]
    assert {r["label"] for r in rows} == labels and len(rows) == len(labels)
    assert all((built_space / "sample" / r["image"]).is_file() for r in rows)
    assert len(list((built_space / "sample" / "images").iterdir())) == len(rows)
    assert "CC0 1.0 Universal" in (built_space / "sample" / "LICENSE").read_text()
    readme = (built_space / "sample" / "README.md").read_text()
    assert "Alexey Grigorev" in readme and "CC0 1.0" in readme


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_space_starts_offline_on_its_sample_and_says_the_basic_grounder_stands_in(
    built_space, tmp_path, model_cache, encoder
):
    photos = len(list((built_space / "sample" / "images").iterdir()))
    with started_space(built_space, tmp_path, model_cache) as (_, client):
        status = wait_for_status(client, lambda s: f"{photos} items" in s and "Adding" not in s)
    assert f"**Catalog:** {photos} items" in status, status
    assert "standing in for the transformers VLM `HuggingFaceTB/SmolVLM-256M-Instruct`" in status, status
    assert "could not be prepared" not in status  # nothing was downloaded


@pytest.mark.slow
def test_a_space_without_its_sample_and_without_network_starts_empty_and_says_why(tmp_path, model_cache, encoder):
    folder = tmp_path / "space"
    folder.mkdir()
    shutil.copy(REPO / "spaces" / "app.py", folder / "app.py")  # no sample/: it tries the download
    with started_space(folder, tmp_path, model_cache) as (_, client):
        status = client.predict(api_name="/status")
    assert "The demo catalog could not be prepared, so the catalog is empty" in status, status
    assert "cannot download the demo catalog" in status and "**Catalog:** 0 items" in status, status
