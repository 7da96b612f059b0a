"""What a finished stage records about itself, so that every number can be traced to how it was made.

`manifest.json` is written last, and its presence marks the stage finished: the configuration, the hardware
plan, the LoRA shape, the data hash, package versions, the git commit, the machine and the resources used.
"""

from __future__ import annotations

import subprocess

from ..files import storage
from ..runtime import install


def final_losses(history: list[dict]) -> dict:
    train = [r["loss"] for r in history if "loss" in r]
    evals = [r["eval_loss"] for r in history if "eval_loss" in r]
    return {"train_loss": train[-1] if train else None, "eval_loss": evals[-1] if evals else None,
            "first_eval_loss": evals[0] if evals else None}


def package_versions() -> dict:
    """The versions the setup line printed (`lib.runtime.install.versions`), Python included."""
    return install.versions()


def git_commit() -> dict:
    """The commit the code ran at, and whether it had uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=storage.PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        return {"commit": commit or "unknown", "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
