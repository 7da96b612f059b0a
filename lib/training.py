"""The two training stages on TRL's SFTTrainer: continued pre-training, then instruction tuning.

Stage 1 ("pretraining") trains LoRA adapters by next-token loss on the author's chunks; stage 2
("instruction") continues from the stage-1 adapter (or from the base model: the SFT-only arm) with
loss on the answers only. Each stage writes a folder in the run: adapter/, checkpoints/,
log_history.json, loss.png and manifest.json (written last: its presence marks the stage finished).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import models, plots, prepare, storage

STAGES = {"pretraining": ("pretraining_train.jsonl", "pretraining_val.jsonl"),
          "instruction": ("instruction_train.jsonl", "instruction_val.jsonl")}


@dataclass
class StageResult:
    stage: str
    folder: Path
    adapter: Path
    log_history: list[dict]
    seconds: float
    tokens_seen: int
    model: object = None          # the trained PEFT model, for generating right away
    tokenizer: object = None


def load_split(cfg, stage: str) -> tuple[list[dict], list[dict], dict]:
    """Train and validation rows of a stage, and the data manifest (its hash goes into the run manifest)."""
    folder = storage.processed_dir(cfg)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: no processed data; run 01_data (or `python -m lib prepare`)")
    train_name, val_name = STAGES[stage]
    rows = [storage.read_jsonl(folder / name) for name in (train_name, val_name)]
    if not rows[0]:
        raise ValueError(f"{folder / train_name}: no training rows for stage '{stage}'")
    return rows[0], rows[1], storage.read_json(manifest_path)


def to_dataset(rows: list[dict], stage: str, chat_date: str):
    """Only the columns the trainer reads; chat rows carry the fixed template date."""
    from datasets import Dataset

    if stage == "pretraining":
        return Dataset.from_list([{"text": r["text"]} for r in rows])
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"],
                               "chat_template_kwargs": {"date_string": chat_date}} for r in rows])


def sft_config(cfg, stage: str, output_dir: Path, has_eval: bool):
    import torch
    from trl import SFTConfig

    on_gpu = torch.cuda.is_available()
    dtype = models.compute_dtype()
    return SFTConfig(
        output_dir=str(output_dir),
        max_length=cfg.max_seq_length,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float under 1 is a ratio
        lr_scheduler_type=cfg.lr_scheduler_type,
        seed=cfg.seed,
        packing=stage == "pretraining",
        bf16=on_gpu and dtype == torch.bfloat16,
        fp16=on_gpu and dtype == torch.float16,
        use_cpu=not on_gpu,
        gradient_checkpointing=on_gpu,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        report_to="none",
        disable_tqdm=True,
        dataset_num_proc=None,
    )


def train_stage(cfg, stage: str, init_adapter: Path | None = None, callbacks: list | None = None) -> StageResult:
    """Train one stage and save everything about it in the run folder."""
    import datasets
    from peft import PeftModel, get_peft_model
    from transformers import PrinterCallback
    from trl import SFTTrainer

    datasets.disable_progress_bars()

    run_name = cfg.run_name
    folder = storage.stage_dir(run_name, stage, overwrite=cfg.overwrite)
    train_rows, val_rows, data_manifest = load_split(cfg, stage)
    model, tokenizer = models.load_base(cfg)
    if init_adapter is not None:
        model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    else:
        model = get_peft_model(model, models.lora_config(cfg))
    args = sft_config(cfg, stage, folder / "checkpoints", bool(val_rows))
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=to_dataset(train_rows, stage, cfg.chat_date),
                         eval_dataset=to_dataset(val_rows, stage, cfg.chat_date) if val_rows else None,
                         callbacks=callbacks or [])
    trainer.remove_callback(PrinterCallback)  # the notebook draws the curve instead of printing dicts
    started = time.time()
    trainer.train()
    seconds = time.time() - started
    adapter = folder / "adapter"
    trainer.model.save_pretrained(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    history = trainer.state.log_history
    storage.write_json(folder / "log_history.json", history)
    plots.save(plots.loss_curve(history, f"{stage}: loss"), folder / "loss.png")
    tokens = int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0)
    storage.write_json(folder / "manifest.json", {
        "stage": stage, "run_name": run_name, "init_adapter": str(init_adapter) if init_adapter else None,
        "config": cfg.as_dict(), "data_hash": prepare.data_hash(data_manifest),
        "train_rows": len(train_rows), "validation_rows": len(val_rows), "seconds": round(seconds, 1),
        "steps": trainer.state.global_step, "parameters": models.parameter_counts(trainer.model),
    })
    return StageResult(stage, folder, adapter, history, seconds, tokens, trainer.model, tokenizer)
