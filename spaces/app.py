"""Hugging Face Space entry point: a demo catalog, a hub VLM, the app.

Settings come from the Space's variables (VLM4REC_*); these are only the defaults. The catalog is
the CC0 sample that ``spaces/build.py`` bundled in sample/; without one, a sample is downloaded
at the first start. Photos are grounded in the background with SmolVLM-256M-Instruct. Whatever
fails, the page still comes up and says what happened: without the download the catalog is
empty, and a VLM that cannot be loaded is replaced by the basic offline grounder.
"""

import logging
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
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
from vlm4rec_agent.demo_catalog import CLOTHING_ZIP, prepare_clothing_demo  # noqa: E402
from vlm4rec_agent.errors import Vlm4recError  # noqa: E402
from vlm4rec_agent.settings import Settings  # noqa: E402

log = logging.getLogger("space")


def demo_catalog() -> tuple[Path | None, str | None]:
    """The catalog to serve, or None and a line for the page saying why there is none."""
    bundled = HERE / "sample" / "labels.csv"
    if bundled.is_file():
        return bundled, None
    url = os.environ.get("VLM4REC_SPACE_CATALOG_URL", CLOTHING_ZIP)
    per_label = int(os.environ.get("VLM4REC_SPACE_PER_LABEL", "20"))
    try:
        return prepare_clothing_demo(DATA / "clothing", per_label=per_label, url=url), None
    except Vlm4recError as error:
        log.warning("%s", error)
        reason = str(error)
    except Exception as error:  # a damaged archive, a full disk: the page must come up all the same
        log.exception("the demo catalog could not be prepared")
        reason = f"{type(error).__name__}: {error}"
    return None, f"The demo catalog could not be prepared, so the catalog is empty: {reason}."


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    catalog, notice = demo_catalog()
    serve(Settings(app_catalog=catalog), notice=notice)
