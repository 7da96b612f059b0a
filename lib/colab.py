"""Colab specifics in one place: where the project comes from, detection, Drive, secrets, the setup call.

The notebooks' first cell (the bootstrap) runs before `lib` can be imported, so it carries copies of
`REPO_URL`, `REPO_PIN`, the Drive folder and the Colab check below; tests/test_colab.py keeps them identical
(`python colab/pin.py` rewrites the notebooks' copies from this file: a fork changes one line here). Once
the project is found, the cell calls `setup`, which does the rest. Only the standard library is imported at
module level, so this runs before the heavy packages are installed.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

REPO_URL = "https://github.com/p4-study/p4-notebooks.git"  # the project's public home (a fork: change it here)
REPO_PIN = "v0.13.0"  # the release tag (or branch) the notebooks clone; one Drive copy per Google account
DRIVE_MOUNT = Path("/content/drive")
DRIVE_WORKSPACE = DRIVE_MOUNT / "MyDrive" / "p4-notebooks"  # the project's clone; outputs, data and caches
TOKEN_HELP = (
    "set a Hugging Face token with read access: on Colab add the secret HF_TOKEN (key icon, left bar) and "
    "allow this notebook to read it; elsewhere `export HF_TOKEN=hf_...`. Accept the licence first at "
    "https://huggingface.co/{model} (or use the ungated copy model=\"unsloth/Llama-3.2-3B-Instruct\")"
)


def colab_url(notebook: str) -> str:
    """Where the Open-in-Colab badge of a notebook points: the notebook of the pinned release on GitHub."""
    owner_repo = REPO_URL.split("github.com/", 1)[-1].removesuffix(".git")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{REPO_PIN}/notebooks/{notebook}.ipynb"


def badge(notebook: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"


def in_colab() -> bool:
    """The one Colab check (the bootstrap cell has the same expression): a Colab kernel imports google.colab
    at start; a kernel papermill starts on Colab has no such import but inherits COLAB_RELEASE_TAG."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def secret(name: str) -> str | None:
    """A value from the environment, else from Colab Secrets; never printed, logged or saved by the caller."""
    if os.environ.get(name):
        return os.environ[name]
    if not in_colab():
        return None
    try:
        from google.colab import userdata

        return userdata.get(name) or None
    except Exception:  # not granted to this notebook, or absent: the caller says what to do
        return None


def hf_token() -> str | None:
    """The token from the environment, the token file or Colab Secrets; never a notebook parameter.

    The value is returned to the loader and nowhere else: it is never printed, logged or saved.
    """
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token:
        return token
    try:
        from huggingface_hub import get_token

        return get_token() or secret("HF_TOKEN")
    except Exception:  # no hub package yet, or Colab Secrets refused: the loader explains what to do
        return secret("HF_TOKEN")


def setup(root: str | Path, started: float | None = None) -> dict:
    """What the bootstrap cell calls once it has the project: on Colab the Hugging Face cache goes to Drive
    and the packages Colab lacks are installed (once, onto Drive); on a GPU unsloth is imported before anything
    imports transformers, trl or peft (its patches need that); library warnings go to a log file; everywhere
    the versions in use are shown. Each step prints one line with the seconds since the cell started.

    Safe to re-run; nothing needs a restart (only missing packages are installed, nothing imported is
    replaced: where it would be, one line says to restart).
    """
    from .runtime import install

    root = Path(root)
    step = Clock(started)
    done: dict = {"root": str(root), "installed": []}
    if in_colab():
        step(f"Project: {drive_name(root)} ({describe_checkout(root)}); outputs, data and the model cache stay there")
        done.update(install.ensure(root, unsloth=wants_unsloth(root), say=step))
        # the model downloads once per account; only the hub's file cache moves (a token file stays in ~)
        cache = Path(os.environ.setdefault("HF_HUB_CACHE", str(root / ".cache" / "huggingface" / "hub")))
        models = sorted(p.name.split("--", 1)[-1].replace("--", "/") for p in cache.glob("models--*"))
        step(f"Model cache: {drive_name(cache)} on Drive, "
             + (f"{len(models)} model(s) there ({', '.join(models[:3])})" if models else "empty: the first notebook "
                "to load the model downloads it there once"))
    log = library_log(root)
    if wants_unsloth(root) and gpu():
        done["unsloth"] = import_unsloth_first(step, log)
    from .runtime import logs

    logs.to_log(log)
    show_log_line(log)
    print(install.versions_line())
    return done


class Clock:
    """Prints a step's line with the seconds since the setup cell started (or since this clock was made)."""

    def __init__(self, started: float | None = None):
        import time

        self.started = started or time.time()

    def __call__(self, text: str) -> None:
        import time

        print(f"[{time.time() - self.started:5.0f} s] {text}", flush=True)


def drive_name(path: Path) -> str:
    """A path on Drive as the user sees it in Drive ("MyDrive/p4-notebooks"), never the runtime's mount."""
    try:
        return str(Path(path).relative_to(DRIVE_MOUNT))
    except ValueError:
        return Path(path).name


def gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # no torch yet: nothing to import unsloth for
        return False


def import_unsloth_first(step, log: Path) -> str:
    """Import unsloth before transformers, trl and peft are imported (it patches them on import and warns, with
    its patches partly applied, when it comes later). Its banner goes to the log and one line says what
    happened; a failure to import it is one line too (training then uses transformers + PEFT), never a
    traceback."""
    from .runtime import logs

    early = [name for name in ("transformers", "trl", "peft") if name in sys.modules]
    if "unsloth" in sys.modules:
        return "already imported"
    if early:
        step(f"unsloth: not imported, {', '.join(early)} came first in this session: Runtime > Restart session, "
             "then run this cell first")
        return "restart needed"
    step("unsloth: importing before transformers, trl and peft ...")
    try:
        with logs.folded("import unsloth", log) as lines:
            import unsloth  # noqa: F401  (patches transformers, trl and peft)
    except Exception as exc:  # noqa: BLE001  (any failure falls back to transformers + PEFT, in one line)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        step(f"unsloth: cannot be used here ({type(exc).__name__}: {reason[:160]}); training uses transformers + "
             "PEFT instead")
        return f"failed: {type(exc).__name__}"
    import importlib.metadata

    version = importlib.metadata.version("unsloth")
    step(f"unsloth {version}: imported first, its patches applied ({len(lines)} lines of its banner in the log)")
    return "imported"


def library_log(root: Path) -> Path:
    """Where library warnings go: beside the notebooks a batch runs (the runner names it), else in outputs/."""
    if os.environ.get("P4_LIBRARY_LOG"):
        return Path(os.environ["P4_LIBRARY_LOG"])
    from .files import storage

    return storage.outputs_dir() / "library.log"


def show_log_line(log: Path) -> None:
    """One line naming the log, a link in a rendered page (the runner's log lies beside its HTML copies)."""
    from .files import storage

    shown = storage.shown_path(log)
    href = log.name if os.environ.get("P4_LIBRARY_LOG") else shown
    text = f"Library warnings and notices go to {shown}, not into this notebook."
    try:
        from IPython import get_ipython
        from IPython.display import display as show

        if get_ipython() is not None:
            show({"text/plain": text, "text/html": f"<p>Library warnings and notices go to <a href='{html.escape(href)}'>"
                                                   f"{html.escape(shown)}</a>, not into this notebook.</p>"}, raw=True)
            return
    except ImportError:
        pass
    print(text)


def wants_unsloth(root: Path) -> bool:
    """unsloth is installed on a GPU unless config.yaml says `use_unsloth: false` (the switch)."""
    try:
        import yaml

        raw = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8")) or {}
    except Exception:
        return True
    return raw.get("use_unsloth", "auto") not in (False, "false")


def describe_checkout(root: Path) -> str:
    """The release and commit of the project's copy, and a note when it is not this notebook's pin."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "not a git checkout"
    tag = git("describe", "--tags", "--exact-match")
    if tag and tag != REPO_PIN:
        return f"{tag} at {commit}; these notebooks were written for {REPO_PIN}: `git -C {root} fetch --tags && " \
               f"git -C {root} checkout {REPO_PIN}` updates it"
    return f"{tag or 'commit'} {commit}"
