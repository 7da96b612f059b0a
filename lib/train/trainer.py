"""The project's trainer: TRL's SFTTrainer that counts what it trains on, and the packed-row collator.

`CountingTrainer` counts the real (non-pad) tokens it trains on and the time it spends evaluating and saving
checkpoints, so the tokens-per-second a run reports is honest, times the first optimiser step (where compiling happens), and can
record which rows each process trained on (`P4_BATCH_LOG=folder`: a data-parallel audit used by the tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from transformers import TrainerCallback
from trl import SFTTrainer

from .packing import RowPackedCollator


class CountingTrainer(SFTTrainer):
    tokens_trained = None  # a device tensor: no host sync per step
    eval_seconds = 0.0
    save_seconds = 0.0      # writing checkpoints (every save_steps, each quarter, every save_minutes)
    first_step_seconds = None  # from the start of training to the end of the first optimiser step, evaluation excluded
    first_step_tokens = 0      # tokens this process had trained on by then

    def training_step(self, model, inputs, *args, **kwargs):
        if os.environ.get("P4_BATCH_LOG"):
            log_batch(Path(os.environ["P4_BATCH_LOG"]), self.args.process_index, self.state.global_step, inputs,
                      self.processing_class.pad_token_id)
        real = (inputs["input_ids"] != self.processing_class.pad_token_id).sum()
        self.tokens_trained = real if self.tokens_trained is None else self.tokens_trained + real
        return super().training_step(model, inputs, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        with self.timed("eval_seconds"):
            return super().evaluate(*args, **kwargs)

    def _save_checkpoint(self, *args, **kwargs):
        with self.timed("save_seconds"):
            return super()._save_checkpoint(*args, **kwargs)

    @contextlib.contextmanager
    def timed(self, counter: str) -> Iterator[None]:
        """Add the time the block takes to `counter`: evaluating and saving are not training, so the tokens per
        second a run reports leave them out."""
        started = time.time()
        try:
            yield
        finally:
            setattr(self, counter, getattr(self, counter) + time.time() - started)

    def steady_tokens_per_second(self, training_seconds: float) -> float | None:
        """Tokens per second after the first optimiser step (compiling and warm-up left out), all processes."""
        if self.first_step_seconds is None or self.tokens_trained is None:
            return None
        seconds = training_seconds - self.first_step_seconds
        tokens = (int(self.tokens_trained.item()) - self.first_step_tokens) * self.args.world_size
        return round(tokens / seconds, 1) if seconds > 0 and tokens > 0 else None

    def total_tokens(self) -> int:
        """Tokens trained on by all processes together."""
        if self.tokens_trained is None:
            return 0
        return int(self.accelerator.reduce(self.tokens_trained.detach().clone(), reduction="sum").item())


def make_trainer(model, tokenizer, args, train_dataset, eval_dataset, callbacks: list,
                 fixed_width: int | None = None) -> CountingTrainer:
    """TRL's trainer with the project's collator. With `fixed_width` (compiled layers) every batch has one
    shape: rows padded to that width, and a short last batch filled up with empty rows."""
    from transformers import PrinterCallback

    trainer = CountingTrainer(model=model, args=args, processing_class=tokenizer, train_dataset=train_dataset,
                              eval_dataset=eval_dataset, callbacks=callbacks)
    trainer.add_callback(FirstStepClock(trainer))
    trainer.remove_callback(PrinterCallback)  # our callbacks draw or print instead
    if args.packing:  # one packed row per example, not TRL's single flattened row (see packing.py)
        rows = args.per_device_train_batch_size if fixed_width else None
        trainer.data_collator = RowPackedCollator(tokenizer.pad_token_id, fixed_width, rows)
    return trainer


class FirstStepClock(TrainerCallback):
    """Sets `trainer.first_step_seconds`: what a run waits before training proper (compiling, warm-up)."""

    def __init__(self, trainer: CountingTrainer):
        self.trainer, self.started = trainer, 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        if self.trainer.first_step_seconds is None:
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.trainer.first_step_seconds = round(time.time() - self.started - self.trainer.eval_seconds, 1)
            self.trainer.first_step_tokens = int(self.trainer.tokens_trained.item())


def log_batch(folder: Path, rank: int, step: int, inputs: dict, pad_token_id: int) -> None:
    """One line per training sequence: process, step and a hash of its tokens."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    ids = inputs["input_ids"].detach().cpu()
    seqs = []
    if "position_ids" in inputs:  # packed rows: a chunk starts wherever the position restarts at 0
        for row, pos in zip(ids, inputs["position_ids"].detach().cpu()):
            starts = (pos == 0).nonzero().flatten().tolist() + [len(pos)]
            seqs += [row[a:b] for a, b in zip(starts, starts[1:]) if (row[a:b] != pad_token_id).any()]
    else:
        mask = inputs.get("attention_mask", torch.ones_like(ids)).detach().cpu()
        seqs = [row[m.bool()] for row, m in zip(ids, mask)]
    with open(folder / f"rank{rank}.tsv", "a") as fh:
        fh.writelines(f"{rank}\t{step}\t{hashlib.sha1(seq.numpy().tobytes()).hexdigest()}\n" for seq in seqs)
