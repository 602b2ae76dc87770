"""Hugging Face Space entry point: a demo catalog, a hub VLM, the app.

Settings come from the Space's variables (VLM4REC_*); these are only the defaults. The first
start downloads the demo catalog and grounds it in the background with SmolVLM-256M-Instruct;
if that model cannot be loaded, the basic offline grounder stands in and says so.
"""

import os
from pathlib import Path

DATA = Path(os.environ.get("VLM4REC_SPACE_DATA", "data"))
DEFAULTS = {
    "VLM4REC_HOME": str(DATA / "home"),
    "VLM4REC_GROUNDER": "transformers",
    "VLM4REC_VLM_MODEL": "HuggingFaceTB/SmolVLM-256M-Instruct",
    "VLM4REC_VLM_MAX_NEW_TOKENS": "256",
    "VLM4REC_GROUNDING_BATCH_SIZE": "4",
    "VLM4REC_GROUNDER_FALLBACK": "true",
    "VLM4REC_APP_HOST": "0.0.0.0",
    "VLM4REC_MCP_SERVER": "true",
}
for name, value in DEFAULTS.items():
    os.environ.setdefault(name, value)

from vlm4rec_agent.app import serve  # noqa: E402 - the defaults above must be set first
from vlm4rec_agent.demo_catalog import prepare_clothing_demo  # noqa: E402
from vlm4rec_agent.settings import Settings  # noqa: E402

if __name__ == "__main__":
    per_label = int(os.environ.get("VLM4REC_SPACE_PER_LABEL", "20"))
    catalog = prepare_clothing_demo(DATA / "clothing", per_label=per_label)
    serve(Settings(app_catalog=catalog))
