"""Trainer callbacks: the live loss curve in a notebook, one line per log in a terminal.

Both only act on the main process, so a data-parallel launch draws and prints once.
"""

from __future__ import annotations

import time

from transformers import TrainerCallback

from .. import plots


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


def progress_callbacks(title: str) -> list:
    return [LiveLossPlot(title)] if in_notebook() else [ConsoleProgress()]
