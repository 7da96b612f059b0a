"""The trainer's settings for a stage: the configuration and the hardware plan turned into an `SFTConfig`."""

from __future__ import annotations

from pathlib import Path

from ..llm.hardware import Plan

# Checkpoints: besides every `save_steps` and every `save_minutes` (callbacks.SaveOften), at least this many per
# stage, so that a short stage (stage 1 runs some 30-40 steps on a book-sized corpus) keeps some; the newest
# KEEP_CHECKPOINTS are kept (a LoRA checkpoint of the 3B model with its optimiser state is some 300 MB on Drive).
CHECKPOINTS_PER_STAGE = 4
KEEP_CHECKPOINTS = 3


def packs(cfg, stage: str) -> bool:
    """Both stages pack their examples (chunks, pairs) into full rows, padding-free, unless `packing: false`
    (then stage 1 is cut into chunks as before and stage 2 pads each batch of pairs)."""
    return cfg.packing


def examples_per_row(cfg, stage: str, rows: list[dict]) -> float:
    """Pairs per packed row of stage 2 (1.0 when nothing is packed several to a row), measured in the model's
    tokens as the trainer will see them: the plan turns the configured batch of pairs into rows with it."""
    if stage != "instruction" or not packs(cfg, stage):
        return 1.0
    from ..llm.models import load_tokenizer
    from .packing import examples_per_row as per_row

    tokenizer = load_tokenizer(cfg)
    lengths = [len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True, return_dict=False,
                                                 date_string=cfg.chat_date)) for r in rows]
    return per_row(lengths, cfg.max_seq_length)


def sft_config(cfg, stage: str, output_dir: Path, plan: Plan, has_eval: bool, backend: str, resuming: bool):
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
        packing=packs(cfg, stage),  # BFD, padding-free: chunks and pairs never attend to each other
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
        save_total_limit=KEEP_CHECKPOINTS,
        report_to=cfg.report_to,  # the environment it needs comes from tracking.environ
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
    )
