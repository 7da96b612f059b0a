"""Install, from a folder of wheels, only the packages this Python cannot import (the lent GPU's image has
torch, transformers, peft and friends; replacing them would change what is measured).

    python3 bench/speed/install_missing.py .carry/wheels /tmp/site   # then PYTHONPATH=/tmp/site

`datasets` comes in two versions (ds5/: 5.x needs pyarrow >= 24 and huggingface-hub >= 1.31; ds4/ otherwise).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path


def top_level(wheel: Path) -> list[str]:
    """The importable names a wheel provides (its top_level.txt, else its top folders and modules)."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        listed = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        if listed:
            return [line.strip() for line in zf.read(listed[0]).decode().splitlines() if line.strip()]
    tops = {n.split("/")[0].removesuffix(".py") for n in names if ".dist-info/" not in n and ".data/" not in n}
    return sorted(t for t in tops if t and not t.endswith(".libs"))


def datasets_folder(folder: Path) -> Path:
    from packaging.version import Version

    try:
        import huggingface_hub
        import pyarrow

        new = Version(pyarrow.__version__) >= Version("24") and Version(huggingface_hub.__version__) >= Version("1.31")
    except ImportError:
        new = False
    return folder / ("ds5" if new else "ds4")


def main() -> None:
    folder, target = Path(sys.argv[1]), Path(sys.argv[2])
    wheels = sorted(folder.glob("*.whl")) + sorted(datasets_folder(folder).glob("*.whl"))
    missing = [w for w in wheels if not all(importlib.util.find_spec(name) for name in top_level(w))]
    print("installing " + (", ".join(w.name.split("-")[0] for w in missing) or "nothing"), flush=True)
    for wheel in missing:  # one at a time: a wheel this Python cannot take is reported, the rest still installed
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                               str(target), str(wheel)], capture_output=True, text=True)
        if done.returncode:
            print(f"{wheel.name}: not installed ({done.stderr.strip().splitlines()[-1][:200]})", flush=True)


if __name__ == "__main__":
    main()
