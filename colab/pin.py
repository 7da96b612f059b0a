"""Write the bootstrap cell (a titled form cell: Colab folds its code) and the Open-in-Colab badges
(notebooks, README) from `lib/colab.py` and `colab/bootstrap_cell.txt`.

The cell runs before `lib` can be imported, so it carries its own copies of `REPO_URL`, `REPO_PIN` and the
Drive folder; this keeps them equal to `lib/colab.py` (tests/test_colab.py fails when they differ). A fork:
change `REPO_URL` (and `REPO_PIN`) in lib/colab.py, then `python colab/pin.py`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "bootstrap_cell.txt"


def bootstrap_source() -> str:
    """The bootstrap cell's code as it must stand in every notebook."""
    sys.path.insert(0, str(ROOT))
    from lib import colab

    values = {"REPO_URL": colab.REPO_URL, "REPO_PIN": colab.REPO_PIN, "DRIVE_WORKSPACE": str(colab.DRIVE_WORKSPACE),
              "DRIVE_MOUNT": str(colab.DRIVE_MOUNT)}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text.rstrip("\n")


def first_code_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def badge_line(name: str) -> str:
    sys.path.insert(0, str(ROOT))
    from lib import colab

    return colab.badge(name) + "\n"


def write_all() -> list[Path]:
    """Rewrite the bootstrap cell and the Open-in-Colab badge (first line of the first cell) where they differ."""
    source = bootstrap_source().splitlines(keepends=True)
    changed = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        before = json.dumps(nb)
        cell = first_code_cell(nb)
        cell["source"] = source
        cell.setdefault("metadata", {})["cellView"] = "form"  # Colab shows the #@title form, the code folded
        intro = nb["cells"][0]["source"]
        if intro and intro[0].startswith("[![Open In Colab]"):
            intro[0] = badge_line(path.stem)
        else:
            intro[:0] = [badge_line(path.stem), "\n"]
        if json.dumps(nb) != before:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    readme = ROOT / "README.md"
    text = readme.read_text()
    fresh = re.sub(r"https://colab\.research\.google\.com/github/[^)\s]*/notebooks/(\w+)\.ipynb",
                   lambda m: colab_url(m.group(1)), text)
    if fresh != text:
        readme.write_text(fresh)
        changed.append(readme)
    return changed


def colab_url(name: str) -> str:
    sys.path.insert(0, str(ROOT))
    from lib import colab

    return colab.colab_url(name)


if __name__ == "__main__":
    for path in write_all():
        print(f"updated {path.relative_to(ROOT)}")
