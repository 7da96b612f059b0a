"""The stand-in Colab image: a virtual environment with Colab's own versions of what the notebooks import.

Built from `../shared/colab/pip-freeze.gpu.txt` (Google's published list of a Colab GPU runtime): every
package that the project's requirements and the notebooks' kernel pull in and that Colab preinstalls is
installed at Colab's version (the whole list is the constraint file). What Colab does not preinstall (trl,
bitsandbytes, papermill, ...) is left out on purpose: the setup cell must install it, as it would on Colab.
The stand-in `google.colab` (drive, userdata) is copied into site-packages.

What this machine cannot match: Python is 3.11 (Colab: 3.13) and torch is the local CPU build 2.13.0
(Colab: 2.11.0+cu128); PyPI's CUDA builds are several GB and there is no GPU to run them on.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TORCH = "torch==2.13.0"  # the CPU wheel on this machine's disk (Python 3.11)
PYTHON = "python3.11"
# What the notebooks and their kernel import beside requirements.txt (all preinstalled on Colab).
KERNEL_SIDE = ["pip", "wheel", "packaging", "ipython", "ipykernel", "ipywidgets", "jupyter_client", "nbclient",
               "wandb", "tensorboard"]
# Lines of the freeze that cannot be constraints here: the CUDA torch family, NVIDIA libraries, URLs, and
# setuptools (Colab's 75.2 is older than the local torch 2.13 needs: >= 77.0.3).
NOT_HERE = re.compile(r"^(setuptools==|torch|torchvision|torchaudio|torchcodec|triton|nvidia-|jax|jaxlib|tensorflow|"
                      r"tf-|cupy|"
                      r"cudf|cuml|dask-cuda|rapids|raft|pylibraft|rmm|ucx|libcu|cuda-|pylibcu|nx-cugraph|"
                      r"distributed-ucxx|libucx|libkvikio|kvikio|libraft|librmm)", re.I)


def name_of(line: str) -> str:
    return re.split(r"[=<>!~ @\[;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def freeze_lines(freeze: Path) -> list[str]:
    """`name==version` lines of the published freeze that pip can use here as constraints."""
    lines = []
    for line in freeze.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "@" in line or "==" not in line or NOT_HERE.match(line):
            continue
        lines.append(line)
    return lines


def wanted(python: Path, freeze: Path, constraints: Path) -> list[str]:
    """Colab's pins of every package the project's requirements and the kernel pull in that Colab has.

    pip resolves the whole of requirements.txt (plus the kernel side) with the freeze as constraints; what it
    would install that Colab preinstalls goes into the image at Colab's version, the rest (trl,
    bitsandbytes, papermill, ...) is left for the setup cell. Dependencies of what Colab lacks (nltk for
    rouge-score, lxml for python-docx) are in the image too, as they are on Colab."""
    pinned = {name_of(line): line for line in freeze_lines(freeze)}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run([str(python), "-m", "pip", "install", "-q", "--dry-run", "--report", str(report), "-r",
             str(ROOT / "requirements.txt"), *KERNEL_SIDE, "-c", str(constraints)])
        names = [name_of(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]]
    return sorted(pinned[n] for n in names if n in pinned)


def image_key(freeze: Path) -> str:
    digest = hashlib.sha256(freeze.read_bytes())
    digest.update((ROOT / "requirements.txt").read_bytes())
    digest.update(Path(__file__).read_bytes())
    for path in sorted((HERE / "standin").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_image(freeze: Path, cache: Path) -> Path:
    """The image's folder (a venv), built once per freeze and recipe; returns at once when it exists."""
    target = cache / f"image-{image_key(freeze)}"
    if (target / ".complete").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob("image-*"):
        shutil.rmtree(old, ignore_errors=True)
    python = shutil.which(PYTHON) or sys.executable
    run([python, "-m", "venv", str(target)])
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(pip + [TORCH])
    constraints = target / "colab-constraints.txt"
    constraints.write_text("\n".join(freeze_lines(freeze) + [TORCH]) + "\n")
    packages = wanted(target / "bin" / "python", freeze, constraints)
    uv = Path(sys.executable).parent / "uv"  # installs the same pins several times faster than pip
    if uv.exists():
        run([str(uv), "pip", "install", "-q", "--python", str(target / "bin" / "python"), *packages,
             "-c", str(constraints)])
    else:
        run(pip + packages + ["-c", str(constraints)])
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(target / "bin" / "python"), "-c", purelib], text=True).strip())
    shutil.copytree(HERE / "standin" / "google" / "colab", site / "google" / "colab")
    (target / ".complete").write_text("\n".join(packages) + "\n")
    return target


def run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"colab-check: building the image failed: {' '.join(cmd[:6])} ...\n{done.stderr[-3000:]}")


if __name__ == "__main__":
    print(build_image(Path(sys.argv[1]), Path(sys.argv[2])))
