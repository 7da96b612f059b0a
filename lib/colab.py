"""Colab specifics in one place: detection, Drive, the Hugging Face token, installing what Colab lacks.

Only the standard library is imported at module level, so the bootstrap cell can use this before the
heavy packages are installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

DRIVE_MOUNT = Path("/content/drive")
DRIVE_WORKSPACE = DRIVE_MOUNT / "MyDrive" / "p4-notebooks"
TOKEN_HELP = (
    "set a Hugging Face token with read access: on Colab add the secret HF_TOKEN (key icon, left bar) and "
    "allow this notebook to read it; elsewhere `export HF_TOKEN=hf_...`. Accept the licence first at "
    "https://huggingface.co/{model}"
)


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def hf_token() -> str | None:
    """The token from the environment, the token file or Colab Secrets; never a notebook parameter.

    The value is returned to the loader and nowhere else: it is never printed, logged or saved.
    """
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token:
        return token
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # no hub package yet, or Colab Secrets refused: the loader explains what to do
        return None


def missing_packages(requirements: Path) -> list[str]:
    """Requirement lines whose import name is not importable (what Colab lacks)."""
    import_names = {"python-docx": "docx", "pyyaml": "yaml", "scikit-learn": "sklearn",
                    "rank-bm25": "rank_bm25", "rouge-score": "rouge_score"}
    missing = []
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name = line.split(";")[0]
        for sep in "<>=!~[ ":
            name = name.split(sep)[0]
        module = import_names.get(name, name.replace("-", "_"))
        if importlib.util.find_spec(module) is None:
            missing.append(line)
    return missing


def install_requirements(root: Path) -> None:
    """Install what is missing from requirements.txt, holding the installed torch where it is."""
    missing = missing_packages(root / "requirements.txt")
    if not missing:
        return
    import torch

    hold = Path("/tmp/hold-torch.txt")
    hold.write_text(f"torch=={torch.__version__}\n")
    print(f"Installing {len(missing)} missing packages (torch stays at {torch.__version__}) ...")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing, "-c", str(hold)], check=True)
