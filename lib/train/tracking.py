"""Experiment tracking as Colab users bring it: `report_to` none | wandb | tensorboard.

TensorBoard logs go into the stage's folder (on Drive on Colab: `%tensorboard --logdir <stage>/tensorboard`).
W&B takes its key from the environment or Colab Secrets (WANDB_API_KEY), never from a setting; with no key
or no network it runs offline into the stage's folder (`wandb sync <stage>/wandb/offline-run-*` uploads it
later), so a run never waits on W&B and the key is never written anywhere by the project.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import colab
from ..llm import models

WANDB_HOST = ("api.wandb.ai", 443)


def reachable(address: tuple[str, int], timeout: float = 3.0) -> bool:
    return models.reachable(address, timeout)


class TrackingError(RuntimeError):
    """The tracker `report_to` names is not installed; the message says what to install."""


def environ(cfg, folder: Path, stage_name: str) -> dict[str, str]:
    """The environment the trainer's reporting callbacks read, for the duration of a stage."""
    import importlib.util

    package = {"wandb": "wandb", "tensorboard": "tensorboard"}.get(cfg.report_to)
    if package and importlib.util.find_spec(package) is None:
        raise TrackingError(f"report_to: {cfg.report_to} needs the {package} package (Colab has it; elsewhere "
                            f"`pip install {package}`), or set report_to: none")
    if cfg.report_to == "tensorboard":
        return {"TENSORBOARD_LOGGING_DIR": str(folder / "tensorboard")}
    if cfg.report_to != "wandb":
        return {}
    env = {"WANDB_DIR": str(folder), "WANDB_PROJECT": os.environ.get("WANDB_PROJECT", "p4-notebooks"),
           "WANDB_NAME": f"{cfg.run_name}-{stage_name}", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off"}
    key = colab.secret("WANDB_API_KEY")
    if key and os.environ.get("WANDB_MODE") != "offline" and reachable(WANDB_HOST):
        env["WANDB_API_KEY"] = key  # read by the wandb client only; never printed or saved by the project
    else:
        env["WANDB_MODE"] = "offline"
    return env


def describe(cfg, folder: Path) -> str | None:
    """One line on where the logs went (shown after training), or None when nothing is reported."""
    from ..files.storage import shown_path  # from the project (the notebooks' working folder), never the machine's

    if cfg.report_to == "tensorboard":
        logs = shown_path(folder / "tensorboard")
        return f"TensorBoard logs: {logs} (in Colab: %load_ext tensorboard, then %tensorboard --logdir {logs})"
    if cfg.report_to == "wandb":
        offline = sorted((folder / "wandb").glob("offline-run-*"))
        if offline:
            return (f"W&B ran offline: `wandb sync {shown_path(offline[-1])}` uploads the run once a key and network "
                    "are there")
        return "W&B: logged online (see your W&B project)"
    return None
