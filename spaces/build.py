"""Assemble a Hugging Face Space folder from this repository.

    python spaces/build.py OUT_DIR

OUT_DIR gets the Space's README (with its front matter), app.py, a wheel of vlm4rec-agent and a
requirements.txt that installs it with a CPU build of torch. Push OUT_DIR to a Space's git
repository (see the project README).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CPU_TORCH = "--extra-index-url https://download.pytorch.org/whl/cpu"


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("vlm4rec_agent-*.whl"):
        old.unlink()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
    )
    [wheel] = out.glob("vlm4rec_agent-*.whl")
    shutil.copy(HERE / "README.md", out / "README.md")
    shutil.copy(HERE / "app.py", out / "app.py")
    (out / "requirements.txt").write_text(f"{CPU_TORCH}\ntorch>=2.4,<2.15\n./{wheel.name}\n", "utf-8")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python spaces/build.py OUT_DIR")
    print(f"Space ready in {build(Path(sys.argv[1]))}")
