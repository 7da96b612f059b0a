"""Where a stage of a run lives, where it resumes from, and which adapter it starts from.

    outputs/<run>/pretraining/   stage 1
    outputs/<run>/instruction/   stage 2, continuing stage 1's adapter
    outputs/<run>/sft_only/      stage 2 from the base model (`init_from: base`)

A stage is finished when its `manifest.json` exists (written last).
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import storage

STAGES = ("pretraining", "instruction")
ARMS = ("pretraining", "instruction", "sft_only")   # the folder names, which are also the study's arm names
LABELS = {"pretraining": "stage 1", "instruction": "stage 1 + 2", "sft_only": "SFT only"}  # in tables and figures
TITLES = {"pretraining": "stage 1: continued pre-training", "instruction": "stage 2: instruction tuning",
          "sft_only": "SFT only (from the base model)"}


class StageError(RuntimeError):
    """A stage cannot start: missing data, a missing stage-1 adapter, a bad checkpoint path."""


def folder_name(stage: str, cfg) -> str:
    """pretraining, instruction (continues stage 1) or sft_only (instruction from the base model)."""
    if stage not in STAGES:
        raise StageError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    return "sft_only" if stage == "instruction" and cfg.init_from == "base" else stage


def stage_path(cfg, stage: str) -> Path:
    return storage.run_dir(cfg.run_name) / folder_name(stage, cfg)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest `checkpoint-N` that finished saving (its trainer_state.json exists)."""
    found = [(int(m.group(1)), p) for p in folder.glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / "trainer_state.json").exists()]
    return max(found)[1] if found else None


def resume_point(cfg, folder: Path) -> Path | None:
    if not cfg.resume:
        return None
    if cfg.resume == "auto":
        return latest_checkpoint(folder / "checkpoints")
    path = storage.resolve(cfg.resume)
    if not (path / "trainer_state.json").exists():
        raise StageError(f"{path}: not a checkpoint folder (no trainer_state.json)")
    return path


def starting_adapter(cfg, stage: str) -> Path | None:
    """Stage 2 continues the finished stage-1 adapter of the same run."""
    if stage != "instruction" or cfg.init_from == "base":
        return None
    stage1 = storage.run_dir(cfg.run_name) / "pretraining"
    if not (stage1 / "manifest.json").exists():
        raise StageError(f"{stage1}: stage 1 of run '{cfg.run_name}' has not finished; run 02_pretrain first "
                         "(same run_name), or set init_from: base for the SFT-only arm")
    return stage1 / "adapter"
