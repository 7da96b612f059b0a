"""Training throughput and memory at the Llama-3.2-3B shape, one configuration per process.

Two kinds of configuration:
- plain-*: the plain recipe the issue measured, as a bare PyTorch + PEFT loop: bitsandbytes 4-bit NF4 (or a
  bf16 base), `prepare_model_for_kbit_training`, LoRA r16/a32/dropout 0.05 on the seven projections (fp32
  adapters), gradient checkpointing, AdamW, bf16 autocast, SDPA, fixed batch x sequence of real text.
- project-*: the project's own training step: `lib.train.stage.setup_stage` + the trainer it builds, with the
  hardware profile's choices (and any overrides), on the same text, chunked and packed the project's way.
Steady state: the first `--warmup` optimiser steps are dropped, the next `--steps` are timed (CUDA
synchronised). Tokens are real (non-padding) tokens.

MFU = tokens/s x FLOPs per token / 790e12 (the bf16 matrix rate measured on this H200). FLOPs per token for
LoRA training without recomputation: 4·P + 6·L·d·s, where P = 3.21e9 parameters in matrix products (the
seven projections of 28 layers and the 128,256 x 3,072 LM head), and 6·L·d·s the causal attention scores
forward and backward (L = 28 layers, d = 3,072, s = sequence length). Gradient checkpointing's recomputed
forward is not counted (model FLOPs, not hardware FLOPs).

    python -m bench.speed.train_throughput NAME[,NAME...] --seq 2048 --model /tmp/llama-3b-shape --data DIR --json OUT

Several names run one after another in this process (imports and kernel compilation paid once); memory
is released and the peak counters reset between them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PEAK_FLOPS = 790e12
P_MATMUL = 28 * (2 * 3072 * 3072 + 2 * 3072 * 1024 + 3 * 3072 * 8192) + 128256 * 3072

# project configurations: overrides of config.yaml (the profile decides the rest). Each differs from the
# default in one choice the README's performance section discusses.
M = {"hardware_profile": "off", "load_in_4bit": False, "gradient_checkpointing": False,  # shape by hand
     "torch_compile": True, "attn_implementation": "flex_attention"}
PROJECT = {
    "project-auto": {},
    "project-auto-nodrop": {"lora_dropout": 0.0},
    "project-auto-nocompile": {"torch_compile": False, "attn_implementation": "sdpa"},
    "project-auto-sdpa": {"attn_implementation": "sdpa"},
    "project-auto-liger": {"use_liger": True, "torch_compile": False, "attn_implementation": "sdpa"},
    "project-auto-gc": {"gradient_checkpointing": True},
    "project-auto-nopack": {"packing": False},
    "project-auto-m8": {**M, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 2},
    "project-auto-unsloth": {"use_unsloth": True},
    "project-t4": {"hardware_profile": "t4"},
    "project-t4-nocompile": {"hardware_profile": "t4", "torch_compile": False},
    "project-t4-m1": {"hardware_profile": "off", "load_in_4bit": True, "precision": "fp16",
                      "per_device_train_batch_size": 1, "gradient_accumulation_steps": 16, "torch_compile": True},
    "project-t4-plainprep": {"hardware_profile": "t4", "lean_lora": False},
    "project-t4-unsloth": {"hardware_profile": "t4", "use_unsloth": True},
    "project-t4-unsloth-nodrop": {"hardware_profile": "t4", "use_unsloth": True, "lora_dropout": 0.0},
}


def flops_per_token(seq: int) -> float:
    return 4 * P_MATMUL + 6 * 28 * 3072 * seq


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--model", default="/tmp/llama-3b-shape")
    parser.add_argument("--data", default="/tmp/p4-bench-data")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", default=None, help="a JSON-lines file the results are appended to")
    parser.add_argument("--profile", default="", help="configurations to profile for one step after the timing")
    parser.add_argument("--no_warmup_run", action="store_true")
    args = parser.parse_args()
    if not args.no_warmup_run:
        warm_up(args)
    for name in args.names.split(","):
        started = time.time()
        try:
            result = plain(args, name) if name.startswith("plain") else project(args, name, name in args.profile)
            result.update(mfu=round(result["tokens_per_s"] * flops_per_token(args.seq) / PEAK_FLOPS, 3))
        except Exception as exc:  # one failing configuration must not hide the others
            result = {"error": f"{type(exc).__name__}: {str(exc)[-400:]}"}
        result.update(name=name, seq=args.seq, wall_s=round(time.time() - started, 1))
        print(json.dumps(result), flush=True)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(result) + "\n")
        release()


def warm_up(args) -> None:
    """Short untimed runs of the plain recipe and both project profiles before anything is measured.

    Without them the first project configuration of a process measured up to 1.4x slower than the same
    configuration run again later in that process (11,870 then 16,810 tokens/s, 2026-11-24), which would
    distort every comparison."""
    import copy

    quick = copy.copy(args)
    quick.steps, quick.warmup = 2, 1
    started = time.time()
    names = args.names.split(",")
    families = {"plain": "plain-qlora", "project-auto": "project-auto-nocompile", "project-t4": "project-t4-nocompile"}
    for name in [warm for prefix, warm in families.items() if any(n.startswith(prefix) for n in names)]:
        try:
            plain(quick, name) if name.startswith("plain") else project(quick, name)
        except Exception as exc:
            print(f"warm-up {name} failed: {exc}")
        release()
    print(f"warm-up runs (untimed): {time.time() - started:.0f} s", flush=True)


def release() -> None:
    import gc

    import torch

    torch._dynamo.reset()  # a compiled configuration leaves nothing behind for the next
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def compiled_graphs() -> int:
    """Graphs the compiler has made in this process so far (one more after the first step = a recompile)."""
    try:
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])
    except Exception:
        return -1


def memory() -> dict:
    import torch

    if not torch.cuda.is_available():
        return {"peak_allocated_gib": 0.0, "peak_reserved_gib": 0.0}
    gib = 1024 ** 3
    return {"peak_allocated_gib": round(torch.cuda.max_memory_allocated() / gib, 2),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / gib, 2)}


def plain(args, name: str) -> dict:
    """The plain recipe: QLoRA (or 16-bit) the textbook way, timed per optimiser step of one micro-batch."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    four_bit = name.startswith("plain-qlora")
    batch = int(name.split("-m")[1].split("-")[0]) if "-m" in name else 2
    checkpointing = "nogc" not in name
    kwargs = {"dtype": torch.bfloat16, "attn_implementation": "sdpa", "device_map": {"": 0}}
    if four_bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_use_double_quant=True,
                                                           bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(args.model, **kwargs)
    if four_bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
    else:  # 16-bit: the base stays bf16
        for param in model.parameters():
            param.requires_grad = False
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, bias="none",
                                             task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    rows = wrapped_rows(args, batch)
    torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    model.train()
    for step in range(args.warmup + args.steps):
        ids = rows[step % len(rows)].cuda()
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    measured = times[args.warmup:]
    step = sorted(measured)[len(measured) // 2]
    return {"tokens_per_s": round(batch * args.seq / step, 1), "step_s": round(step, 3),
            "micro_batch": batch, "accumulation": 1, "four_bit": four_bit, "checkpointing": checkpointing,
            **memory()}


def wrapped_rows(args, batch: int):
    """The data's token stream cut into batch x seq rows (the plain loop's fixed shape)."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    text = "".join(json.loads(line)["text"] for line in open(Path(args.data) / "pretraining_train.jsonl"))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    per = batch * args.seq
    return [torch.tensor(ids[i:i + per]).view(batch, args.seq) for i in range(0, len(ids) - per, per)]


def profiler(at_step: int):
    """A callback that profiles optimiser step `at_step`: the top CUDA kernels and how busy the GPU was."""
    import torch
    from transformers import TrainerCallback

    class Profiler(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if state.global_step == at_step:
                self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                               torch.profiler.ProfilerActivity.CUDA])
                self.prof.__enter__()
                self.started = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            if getattr(self, "prof", None) is not None and state.global_step == at_step + 1:
                sync()
                wall = time.perf_counter() - self.started
                self.prof.__exit__(None, None, None)
                events = self.prof.key_averages()
                busy = sum(e.self_device_time_total for e in events) / 1e6
                print(f"PROFILE wall {wall:.3f} s, GPU kernel time {busy:.3f} s ({busy / wall:.0%} busy)")
                print(events.table(sort_by="self_device_time_total", row_limit=22, max_name_column_width=60))
                self.prof = None

    return Profiler()


def project(args, name: str, profile: bool = False) -> dict:
    """The project's training step through `setup_stage` and its trainer, timed by a callback."""
    import torch
    from transformers import TrainerCallback

    from lib.settings import config
    from lib.train import stage as training

    os.environ.setdefault("P4_OUTPUTS", "/tmp/p4-bench-outputs")
    overrides = dict(model=args.model, processed_dir=args.data, max_seq_length=args.seq, run_name=name,
                     overwrite=True, max_steps=args.warmup + args.steps + int(profile), logging_steps=1000,
                     save_steps=100000, **{"use_unsloth": False, **PROJECT[name]})
    cfg = config.load_config(ROOT / "config.yaml", **overrides)

    class Clock(TrainerCallback):
        def __init__(self):
            self.marks, self.trainer = [], None

        def on_step_end(self, a, state, control, **kw):
            sync()
            self.marks.append((time.perf_counter(), int(self.trainer.tokens_trained.item()), compiled_graphs()))

    clock = Clock()
    setup = training.setup_stage(cfg, "pretraining", extra_callbacks=[clock], progress=False)
    trainer = clock.trainer = setup.trainer
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    if profile:
        trainer.add_callback(profiler(args.warmup + args.steps))
    trainer.train()
    (t0, n0, _), (t1, n1, _) = clock.marks[args.warmup - 1], clock.marks[args.warmup + args.steps - 1]
    steps = args.steps  # the profiled step, if any, comes after and is not timed
    plan, backend = setup.plan, setup.backend
    del setup, trainer
    # bench/speed/pipeline.py's figure, counted the same way (real tokens after the first optimiser step over the time
    # after it, to the last step), and each step's seconds and tokens: where the two benchmarks differ, these say
    # whether it is the window (warm-up longer than `--warmup` steps) or the process
    (f0, m0, g0), last = clock.marks[0], clock.marks[args.warmup + args.steps - 1]
    each = [(round(b[0] - a[0], 3), b[1] - a[1]) for a, b in zip(clock.marks, clock.marks[1:])]
    return {"tokens_per_s": round((n1 - n0) / (t1 - t0), 1), "step_s": round((t1 - t0) / steps, 3),
            "after_first_step_tokens_per_s": round((last[1] - m0) / (last[0] - f0), 1),
            "steps_after_first": each, "graphs_compiled_after_first_step": last[2] - g0,
            "micro_batch": plan.micro_batch, "accumulation": plan.gradient_accumulation,
            "four_bit": plan.load_in_4bit, "checkpointing": plan.gradient_checkpointing,
            "backend": backend, "attention": plan.attention, "liger": plan.liger,
            "compile": plan.compile, "precision": plan.precision,
            "lora_dropout": cfg.lora_dropout, **memory()}


if __name__ == "__main__":
    main()
