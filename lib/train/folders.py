"""Where a stage of a run lives, where it resumes from, and which adapter it starts from.

    outputs/<run>/pretraining/   stage 1
    outputs/<run>/instruction/   stage 2, continuing stage 1's adapter
    outputs/<run>/sft_only/      stage 2 from the base model (`init_from: base`)

A stage is finished when its `manifest.json` exists (written last). A checkpoint is resumed only if it
is whole (its `trainer_state.json` reads, its weights are complete) and belongs to the stage being trained.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..files import locks, storage
from ..files.disk import adapter_problem

STAGES = ("pretraining", "instruction")
CONTROL = "control_"          # a control author's stages: the same folders with this prefix
ARMS = ("pretraining", "instruction", "sft_only",   # the folder names, which are also the study's arm names
        "control_pretraining", "control_instruction")
LABELS = {"pretraining": "stage 1", "instruction": "stage 1 + 2", "sft_only": "SFT only",  # in tables and figures
          "control_pretraining": "control stage 1", "control_instruction": "control stage 1 + 2"}
TITLES = {"pretraining": "stage 1: continued pre-training", "instruction": "stage 2: instruction tuning",
          "sft_only": "SFT only (from the base model)",
          "control_pretraining": "the control author's stage 1", "control_instruction": "the control author's stage 2"}


class StageError(RuntimeError):
    """A stage cannot start: missing data, a missing stage-1 adapter, a bad checkpoint path."""


class RunExistsError(RuntimeError):
    """A finished stage would be overwritten; the message says how to keep or replace it."""


def folder_name(stage: str, cfg, control: bool = False) -> str:
    """pretraining, instruction (continues stage 1) or sft_only (instruction from the base model); with
    `control`, the control author's same stage (control_pretraining, control_instruction)."""
    if stage not in STAGES:
        raise StageError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    if control:
        if stage == "instruction" and cfg.init_from == "base":
            raise StageError("the control author has no SFT-only arm (init_from: base); train his stage 2 with "
                             "init_from: pretraining")
        return CONTROL + stage
    return "sft_only" if stage == "instruction" and cfg.init_from == "base" else stage


def stage_dir(run_name: str, stage: str, replace: bool = False) -> Path:
    """The folder of one stage of a run, emptied first where a finished stage is to be `replace`d (after
    `check_unfinished` allowed it and every input passed). Unfinished stages are reused, so that checkpoints
    survive for resuming."""
    path = storage.run_dir(run_name) / stage
    if replace and (path / "manifest.json").exists():
        shutil.rmtree(path)
    with storage.explained(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def check_unfinished(path: Path, run_name: str, stage: str, overwrite: bool, resume: bool = False) -> None:
    """Refuse a finished stage (its manifest exists), whether asked to train or to resume it, unless
    `overwrite` says to replace it."""
    if (path / "manifest.json").exists() and not overwrite:
        nothing = "; there is nothing to resume" if resume else ""
        raise RunExistsError(f"{path}: stage '{stage}' of run '{run_name}' is already finished{nothing}; "
                             f"choose another run_name, or set overwrite=True to replace it")


def stage_path(cfg, stage: str) -> Path:
    return storage.run_dir(cfg.run_name) / folder_name(stage, cfg)


def latest_checkpoint(folder: Path, warn: bool = False) -> Path | None:
    """The newest `checkpoint-N` that finished saving and reads whole; with `warn`, each newer one that
    does not is named in a warning (a save cut short by a kill or a full disk)."""
    skipped = []
    for path in newest_first(folder):
        problem = checkpoint_problem(path)
        if problem is None:
            for text in skipped:
                warnings.warn(f"{text}; resuming from {path.name} instead", UserWarning, stacklevel=3)
            return path
        if (path / "trainer_state.json").exists():  # one still being written has no state yet: not news
            skipped.append(problem)
    for text in skipped if warn else []:
        warnings.warn(f"{text}; no earlier checkpoint: training starts from the beginning", UserWarning,
                      stacklevel=3)
    return None


def newest_first(folder: Path) -> list[Path]:
    """The `checkpoint-N` folders in `folder`, highest step first."""
    found = [(int(m.group(1)), p) for p in folder.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint folder cannot be resumed from, or None."""
    state = path / "trainer_state.json"
    if not state.exists():
        return f"{path}: not a checkpoint folder (no trainer_state.json)"
    try:
        step = json.loads(state.read_text(encoding="utf-8"))["global_step"]
        int(step)
    except (ValueError, KeyError, TypeError):
        return f"{state}: damaged (not a complete trainer state; the save was cut short?)"
    return adapter_problem(path) or torch_files_problem(path)


def torch_files_problem(path: Path) -> str | None:
    """Why the optimiser, scheduler or random states of a checkpoint cannot load, or None. `torch.save` writes
    a zip archive whose directory is at its end: a file cut short has none (read without unpickling anything).
    The trainer writes `trainer_state.json` after them all, so in a checkpoint that has one, a missing
    optimiser state was lost afterwards."""
    import zipfile

    if not any((path / name).exists() for name in ("optimizer.pt", "optimizer.bin")) and \
            not any(path.glob("*optimizer.pt*")):
        return f"{path / 'optimizer.pt'}: missing (the optimiser state was lost; the checkpoint cannot resume)"
    for file in sorted([*path.glob("*.pt"), *path.glob("*.pth")]):
        if not zipfile.is_zipfile(file):
            return f"{file}: damaged or cut short (not a complete torch file; the save was cut short?)"
    return None


def resume_point(cfg, folder: Path) -> Path | None:
    """The checkpoint to resume from: the newest whole one (`resume: auto`) or the one named, which must be
    whole and of this stage."""
    if not cfg.resume:
        return None
    if cfg.resume == "auto":
        return latest_checkpoint(folder / "checkpoints", warn=True)
    path = storage.resolve(cfg.resume)
    if problem := checkpoint_problem(path):
        raise StageError(problem)
    owner = path.parent.parent.name if path.parent.name == "checkpoints" else None
    if owner in ARMS and owner != folder.name:
        raise StageError(f"{path}: a checkpoint of stage '{owner}', not '{folder.name}'; resume from one in "
                         f"{folder / 'checkpoints'}, or use resume: auto")
    return path


def check_restart(cfg, folder: Path) -> bool:
    """Whether a training that starts at step 0 in `folder` (an unfinished stage) must first clear checkpoints
    left there. Whole ones are never dropped silently: without `resume` they are kept and the stage refuses,
    unless `overwrite` says to start again."""
    left = newest_first(folder / "checkpoints")
    if not left:
        return False
    whole = next((p for p in left if checkpoint_problem(p) is None), None)
    if whole is not None and not cfg.overwrite:
        raise StageError(f"{whole}: an unfinished training of this stage saved checkpoints up to here; set "
                         "resume: auto to continue from it, or overwrite: true to start the stage again (deletes "
                         "them)")
    return True


def lock(cfg) -> locks.Lock:
    """The run's lock, held from a stage's set-up to the end of its training (see `lib.files.locks`)."""
    run = storage.run_dir(cfg.run_name)
    with storage.explained(run):
        return locks.acquire(run / ".lock", f"training run '{cfg.run_name}'", nested=False)


def starting_adapter(cfg, stage: str, control: bool = False) -> Path | None:
    """Stage 2 continues the finished stage-1 adapter of the same run (the control's, his)."""
    if stage != "instruction" or cfg.init_from == "base":
        return None
    stage1 = storage.run_dir(cfg.run_name) / folder_name("pretraining", cfg, control)
    if not (stage1 / "manifest.json").exists():
        raise StageError(f"{stage1}: stage 1 of run '{cfg.run_name}' has not finished; run 02_pretrain first "
                         "(same run_name), or set init_from: base for the SFT-only arm")
    if problem := adapter_problem(stage1 / "adapter", required=True):
        raise StageError(f"{problem}; train stage 1 again (overwrite: true), or set init_from: base")
    return stage1 / "adapter"


@contextlib.contextmanager
def write_failures(folder: Path, doing: str) -> Iterator[None]:
    """A full disk or a read-only folder while `doing`: one line naming the place, not the trainer's traceback."""
    try:
        yield
    except Exception as exc:
        problem = storage.write_problem(exc, folder)
        if problem is None:
            raise
        raise StageError(f"{problem} (when {doing}); checkpoints saved before are kept: continue with "
                         "resume: auto once there is room") from None
