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
