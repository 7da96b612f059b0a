"""The two training stages on TRL's SFTTrainer: continued pre-training, then instruction tuning.

Stage 1 ("pretraining") trains LoRA adapters by next-token loss on the author's chunks, packed without
letting one chunk attend to another. Stage 2 ("instruction") continues the stage-1 adapter on the
question-answer pairs with loss on the answers only; with `init_from: base` it starts from the base model
instead and is saved as the "sft_only" arm. Each stage is a folder of the run:

    checkpoints/   every `save_steps` (on Drive on Colab; `resume: auto` continues from the newest)
    adapter/       the final LoRA adapter and tokenizer
    log_history.json, loss.png, manifest.json (written last: it marks the stage finished)

The same function runs in a notebook, from `python -m lib train`, and in every process of
`accelerate launch` (data parallel): only the main process writes files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import callbacks, hardware, models, plots, prepare, speedups, storage
from .packing import RowPackedCollator

STAGES = {"pretraining": ("pretraining_train.jsonl", "pretraining_val.jsonl"),
          "instruction": ("instruction_train.jsonl", "instruction_val.jsonl")}
PACKAGES = ["torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "datasets", "unsloth",
            "unsloth_zoo", "tokenizers"]


class StageError(RuntimeError):
    """A stage cannot start: missing data, a missing stage-1 adapter, a bad checkpoint path."""


@dataclass
class StageResult:
    stage: str
    folder: Path
    adapter: Path
    log_history: list[dict]
    seconds: float
    tokens: int
    plan: hardware.Plan
    backend: str
    parameters: dict
    resources: dict
    model: object = field(default=None, repr=False)       # the trained PEFT model, ready to generate
    tokenizer: object = field(default=None, repr=False)


# --- where a stage lives ------------------------------------------------------------------------------

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
    stage1 = stage_path(cfg.replace(init_from="pretraining"), "pretraining")
    if not (stage1 / "manifest.json").exists():
        raise StageError(f"{stage1}: stage 1 of run '{cfg.run_name}' has not finished; run 02_pretrain first "
                         "(same run_name), or set init_from: base for the SFT-only arm")
    return stage1 / "adapter"


# --- data -------------------------------------------------------------------------------------------

def load_split(cfg, stage: str) -> tuple[list[dict], list[dict], dict]:
    """Train and validation rows of a stage, and the data manifest (its hash goes into the run manifest)."""
    folder = storage.processed_dir(cfg)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise StageError(f"{manifest_path}: no processed data; run 01_data (or `python -m lib prepare`)")
    train_name, val_name = STAGES[stage]
    if not (folder / train_name).exists():
        raise StageError(f"{folder / train_name}: missing; run `python -m lib prepare --mode {stage}`")
    rows = [storage.read_jsonl(folder / name) for name in (train_name, val_name)]
    if not rows[0]:
        raise StageError(f"{folder / train_name}: no training rows for stage '{stage}'")
    return rows[0], rows[1], storage.read_json(manifest_path)


def to_dataset(rows: list[dict], stage: str, chat_date: str):
    """Only the columns the trainer reads; chat rows carry the fixed template date."""
    from datasets import Dataset

    if stage == "pretraining":
        return Dataset.from_list([{"text": r["text"]} for r in rows])
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"],
                               "chat_template_kwargs": {"date_string": chat_date}} for r in rows])


# --- the trainer ------------------------------------------------------------------------------------

def sft_config(cfg, stage: str, output_dir: Path, plan: hardware.Plan, has_eval: bool, backend: str,
               resuming: bool):
    import torch
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        max_length=cfg.max_seq_length,
        per_device_train_batch_size=plan.micro_batch,
        per_device_eval_batch_size=plan.micro_batch,
        gradient_accumulation_steps=plan.gradient_accumulation,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float under 1 is a ratio of all steps
        lr_scheduler_type=cfg.lr_scheduler_type,
        seed=cfg.seed,
        packing=packs(cfg, stage),  # BFD, padding-free: chunks never attend to each other
        bf16=plan.precision == "bf16",
        fp16=plan.precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=plan.gradient_checkpointing and backend != "unsloth",
        gradient_checkpointing_kwargs={"use_reentrant": False},
        use_liger_kernel=plan.liger and backend != "unsloth",
        logging_steps=cfg.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.eval_steps,
        eval_on_start=has_eval and not resuming,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        report_to="none",
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
    )


def packs(cfg, stage: str) -> bool:
    """Stage 1 packs chunks into full rows (unless `packing: false`); stage 2 pads each batch of pairs."""
    return stage == "pretraining" and cfg.packing


def make_trainer(model, tokenizer, args, train_dataset, eval_dataset, extra_callbacks,
                 fixed_width: int | None = None):
    from transformers import PrinterCallback
    from trl import SFTTrainer

    class Trainer(SFTTrainer):
        """SFTTrainer that counts the tokens it trains on and the time it spends evaluating (for an honest
        tokens-per-second), and can record which rows each process trained on (P4_BATCH_LOG=folder)."""

        tokens_trained = None  # a device tensor: no host sync per step
        eval_seconds = 0.0

        def training_step(self, model, inputs, *args, **kwargs):
            if os.environ.get("P4_BATCH_LOG"):
                log_batch(Path(os.environ["P4_BATCH_LOG"]), self.args.process_index, self.state.global_step,
                          inputs, self.processing_class.pad_token_id)
            real = (inputs["input_ids"] != self.processing_class.pad_token_id).sum()
            self.tokens_trained = real if self.tokens_trained is None else self.tokens_trained + real
            return super().training_step(model, inputs, *args, **kwargs)

        def evaluate(self, *args, **kwargs):
            started = time.time()
            try:
                return super().evaluate(*args, **kwargs)
            finally:
                self.eval_seconds += time.time() - started

        def total_tokens(self) -> int:
            if self.tokens_trained is None:
                return 0
            return int(self.accelerator.reduce(self.tokens_trained.detach().clone(), reduction="sum").item())

    trainer = Trainer(model=model, args=args, processing_class=tokenizer, train_dataset=train_dataset,
                      eval_dataset=eval_dataset, callbacks=extra_callbacks)
    trainer.remove_callback(PrinterCallback)  # our callbacks draw or print instead
    if args.packing:  # one packed row per example, not TRL's single flattened row (see lib/packing.py)
        trainer.data_collator = RowPackedCollator(tokenizer.pad_token_id, fixed_width)
    return trainer


def set_adapter_dtype(model, precision: str, lean: bool) -> None:
    """The LoRA weights' dtype: bf16 when training in bf16 the lean way, otherwise fp32.

    bf16 adapters avoid a cast around every LoRA product. fp16 training (a T4) needs fp32 weights: its
    gradient scaler cannot unscale 16-bit gradients ("not implemented for 'BFloat16'", which is what TRL's
    own cast of quantised models' adapters to bf16 runs into). The plain recipe (lean off) keeps fp32.
    """
    import torch

    target = torch.bfloat16 if lean and precision == "bf16" else torch.float32
    for param in model.parameters():
        if param.requires_grad and param.dtype != target:
            param.data = param.data.to(target)


def log_batch(folder: Path, rank: int, step: int, inputs: dict, pad_token_id: int) -> None:
    """One line per training sequence: process, step and a hash of its tokens (a data-parallel audit)."""
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
    rows = []
    for seq in seqs:
        rows.append(f"{rank}\t{step}\t{hashlib.sha1(seq.numpy().tobytes()).hexdigest()}\n")
    with open(folder / f"rank{rank}.tsv", "a") as fh:
        fh.writelines(rows)


# --- a stage --------------------------------------------------------------------------------------

@dataclass
class StageSetup:
    """Everything decided before the first step: shown by the notebook, then handed to `run`."""
    cfg: object
    stage: str
    name: str
    folder: Path
    checkpoint: Path | None
    init_adapter: Path | None
    plan: hardware.Plan
    backend: str
    parameters: dict
    rows: dict
    data_manifest: dict
    trainer: object = field(repr=False)
    tokenizer: object = field(repr=False)

    def summary(self) -> dict:
        return {"stage": self.name, "backend": self.backend, "starts from": str(self.init_adapter or "base model"),
                "resumes from": str(self.checkpoint or "-"), **self.rows, **self.parameters}


TITLES = {"pretraining": "stage 1: continued pre-training", "instruction": "stage 2: instruction tuning",
          "sft_only": "SFT only (from the base model)"}


def setup_stage(cfg, stage: str, extra_callbacks: list | None = None, progress: bool = True) -> StageSetup:
    """Check the inputs, pick the hardware plan, load the model, add LoRA, build the trainer."""
    import datasets

    datasets.disable_progress_bars()
    name = folder_name(stage, cfg)
    checkpoint = resume_point(cfg, storage.run_dir(cfg.run_name) / name)
    folder = storage.stage_dir(cfg.run_name, name, overwrite=cfg.overwrite and is_main_process(),
                               resume=checkpoint is not None or not is_main_process())
    init_adapter = starting_adapter(cfg, stage)
    train_rows, val_rows, data_manifest = load_split(cfg, stage)
    backend = models.choose_backend(cfg)
    plan = hardware.plan(cfg, compilable=packs(cfg, stage) and backend == "hf")
    if is_main_process():
        print(plan.describe())
    loaded = models.load_model(cfg, hardware.torch_dtype(plan.precision), backend, plan.load_in_4bit,
                               plan.attention)
    model = models.add_lora(loaded, cfg, plan.gradient_checkpointing, init_adapter, lean=cfg.lean_lora)
    args = sft_config(cfg, stage, folder / "checkpoints", plan, bool(val_rows), loaded.backend,
                      checkpoint is not None)
    trainer = make_trainer(model, loaded.tokenizer, args, to_dataset(train_rows, stage, cfg.chat_date),
                           to_dataset(val_rows, stage, cfg.chat_date) if val_rows else None,
                           (callbacks.progress_callbacks(TITLES[name]) if progress else []) + (extra_callbacks or []),
                           cfg.max_seq_length if plan.compile else None)
    set_adapter_dtype(trainer.model, plan.precision, cfg.lean_lora)
    if plan.compile:
        speedups.compile_layers(trainer.model)
    return StageSetup(cfg, stage, name, folder, checkpoint, init_adapter, plan, loaded.backend,
                      models.parameter_counts(model), {"train rows": len(train_rows), "validation rows": len(val_rows)},
                      data_manifest, trainer, loaded.tokenizer)


def run(setup: StageSetup) -> StageResult:
    """Train, then save the adapter, the log, the curve and the manifest (main process only)."""
    cfg, trainer = setup.cfg, setup.trainer
    if is_main_process() and setup.checkpoint is not None:
        print(f"resuming from {setup.checkpoint}")
    hardware.reset_peak_memory()
    started = time.time()
    try:
        trainer.train(resume_from_checkpoint=str(setup.checkpoint) if setup.checkpoint else None)
    finally:
        speedups.after_training(trainer.model)
    seconds = time.time() - started
    history = trainer.state.log_history
    tokens = trainer.total_tokens()
    resources = hardware.resources(seconds - trainer.eval_seconds, tokens)
    resources["evaluation_seconds"] = round(trainer.eval_seconds, 1)
    adapter = setup.folder / "adapter"
    if is_main_process():
        trainer.model.save_pretrained(str(adapter))
        setup.tokenizer.save_pretrained(str(adapter))
        storage.write_json(setup.folder / "log_history.json", history)
        plots.save(plots.loss_curve(history, TITLES[setup.name]), setup.folder / "loss.png")
        storage.write_json(setup.folder / "manifest.json", {
            "stage": setup.stage, "arm": setup.name, "run_name": cfg.run_name, "backend": setup.backend,
            "init_adapter": str(setup.init_adapter) if setup.init_adapter else None,
            "resumed_from": str(setup.checkpoint) if setup.checkpoint else None,
            "steps": trainer.state.global_step, "final": final_losses(history), "parameters": setup.parameters,
            "plan": setup.plan.as_dict(), "resources": resources, "config": cfg.as_dict(),
            "data": {"hash": prepare.data_hash(setup.data_manifest), **setup.rows,
                     "processed_dir": str(storage.processed_dir(cfg))},
            "versions": package_versions(), "git": git_commit(), "machine": hardware.describe_machine(),
        })
    trainer.accelerator.wait_for_everyone()
    return StageResult(setup.stage, setup.folder, adapter, history, seconds, tokens, setup.plan, setup.backend,
                       setup.parameters, resources, trainer.model, setup.tokenizer)


def train_stage(cfg, stage: str, extra_callbacks: list | None = None, progress: bool = True) -> StageResult:
    """`setup_stage` then `run`: one call for the command line and tests."""
    return run(setup_stage(cfg, stage, extra_callbacks, progress))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def final_losses(history: list[dict]) -> dict:
    train = [r["loss"] for r in history if "loss" in r]
    evals = [r["eval_loss"] for r in history if "eval_loss" in r]
    return {"train_loss": train[-1] if train else None, "eval_loss": evals[-1] if evals else None,
            "first_eval_loss": evals[0] if evals else None}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


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
