"""Trainer callbacks: the live loss curve in a notebook, one line per log in a terminal, and checkpoints by
time as well as by steps.

The first two only act on the main process, so a data-parallel launch draws and prints once; the decision to
save is the main process's too, shared with the others (every process takes part in a save).
"""

from __future__ import annotations

import time

from transformers import TrainerCallback

from ..view import plots


def in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class LiveLossPlot(TrainerCallback):
    """Redraw the train and evaluation loss in place each time the trainer logs."""

    def __init__(self, title: str, min_interval: float = 1.0):
        self.title = title
        self.min_interval = min_interval
        self.handle = None
        self.last = 0.0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not (logs and ("loss" in logs or "eval_loss" in logs)):
            return
        if time.time() - self.last >= self.min_interval:
            self.draw(state)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.draw(state)  # the final curve, whatever the interval

    def draw(self, state) -> None:
        from IPython.display import display

        fig = plots.loss_curve(state.log_history, f"{self.title} (step {state.global_step}/{state.max_steps})")
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        self.last = time.time()


class ConsoleProgress(TrainerCallback):
    """`step 20/120  loss 2.913  eval 3.005  lr 1.9e-04  41 s` in a terminal or log file."""

    def __init__(self):
        self.started = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        parts = [f"step {state.global_step}/{state.max_steps}"]
        for key, label in (("loss", "loss"), ("eval_loss", "eval"), ("learning_rate", "lr")):
            if key in logs:
                parts.append(f"{label} {logs[key]:.3g}" if key == "learning_rate" else f"{label} {logs[key]:.3f}")
        if len(parts) > 1:
            print("  ".join(parts + [f"{time.time() - self.started:.0f} s"]), flush=True)


class SaveOften(TrainerCallback):
    """A checkpoint at least every `minutes` of training and at each `per_stage`-th part of the stage's steps,
    besides the trainer's own every `save_steps`: a disconnect loses minutes, and a stage of a few dozen steps
    (shorter than `save_steps`) still keeps some."""

    def __init__(self, minutes: float | None, per_stage: int = 4):
        self.seconds = minutes * 60 if minutes else None
        self.per_stage = per_stage
        self.every = 0
        self.last = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.every = max(1, -(-state.max_steps // self.per_stage)) if state.max_steps > 0 else 0
        self.last = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        due = bool(self.every) and state.global_step % self.every == 0
        if self.seconds is not None:
            due = due or shared_flag(time.time() - self.last >= self.seconds, args)
        if due:
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        self.last = time.time()


def shared_flag(flag: bool, args) -> bool:
    """The main process's `flag`, on every process of a data-parallel launch (clocks differ between processes;
    a save that only some of them start would hang the others)."""
    import torch

    if not (torch.distributed.is_available() and torch.distributed.is_initialized()) or args.world_size < 2:
        return flag
    value = torch.tensor([int(flag)], device=args.device)
    torch.distributed.broadcast(value, src=0)
    return bool(value.item())


def progress_callbacks(title: str) -> list:
    return [LiveLossPlot(title)] if in_notebook() else [ConsoleProgress()]
