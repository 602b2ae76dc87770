from pathlib import Path

import pytest
from pydantic import ValidationError

from vlm4rec_agent.settings import Settings, documented_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_come_from_prefixed_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path))
    monkeypatch.setenv("VLM4REC_CHROMA_HOST", "db.internal")
    monkeypatch.setenv("VLM4REC_CHROMA_PORT", "9000")
    monkeypatch.setenv("VLM4REC_DISLIKE_WEIGHT", "0.25")
    s = Settings()
    assert s.home == tmp_path and s.chroma_path == tmp_path / "chroma"
    assert s.store_location == "http://db.internal:9000"
    assert s.dislike_weight == 0.25
    assert s.models_path == tmp_path / "models"


def test_gradios_own_server_variables_are_defaults_that_ours_and_the_flags_override(monkeypatch):
    from vlm4rec_agent.app.options import settings_from
    from vlm4rec_agent.cli import _settings, build_parser

    assert (Settings().app_host, Settings().app_port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8080")
    assert (Settings().app_host, Settings().app_port) == ("0.0.0.0", 8080)  # as Docker images and Spaces set them
    monkeypatch.setenv("VLM4REC_APP_HOST", "10.1.2.3")
    assert (Settings().app_host, Settings().app_port) == ("10.1.2.3", 8080)
    monkeypatch.setenv("VLM4REC_APP_PORT", "9000")
    assert (Settings().app_host, Settings().app_port) == ("10.1.2.3", 9000)
    args = build_parser().parse_args(["serve", "--host", "127.0.0.2", "--port", "7000"])
    flagged = settings_from(args, _settings(args))
    assert (flagged.app_host, flagged.app_port) == ("127.0.0.2", 7000)
    assert Settings(app_port=7001).app_port == 7001
    monkeypatch.delenv("VLM4REC_APP_PORT")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="app_port"):
        Settings()


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("VLM4REC_ENCODER_BATCH_SIZE", "0")
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ValidationError, match="letters, digits"):
        Settings(collection="no spaces allowed")


def test_readme_documents_every_setting():
    text = README.read_text("utf-8")
    missing = [env for env, _, _ in documented_settings() if f"`{env}`" not in text]
    assert not missing, f"README.md does not document {missing}"
