"""Generation throughput: the project's generation now and before, in one run.

Modes (each on the same prompts, greedy, every answer exactly `--max_new_tokens` long):
- plain: batched Hugging Face `generate` (dynamic cache, eager), what `generation.generate` did on CPU before
  (bench/speed/baseline, `fast=False`);
- fast: the previous GPU path (bench/speed/baseline: static cache per batch of `--batch_size`, the decoding step
  replayed as a CUDA graph captured per batch); graph capture is inside the timed call, as in the study;
- new: `generation.generate` now (lib/llm/decoding.py: continuous batching over a ring cache, graphs captured once
  per call; `--batch_size 0` lets the hardware profile and free memory choose the rows);
- hf-compile: Hugging Face's own recipe (`cache_implementation="static"` and torch.compile of the decoding
  step), timed on its first call (compiling) and again (compiled);
- single: one prompt at a time (plain), the old baseline.
Prints tokens per second of each, the ratio to `plain`, and how many answers are identical to `plain`'s (in fp32
they must all be). `--profile` adds the top GPU kernels and the GPU's busy share for one fast batch.

    python -m bench.speed.generation [--model tiny|FOLDER] [--prompts 32] [--max_new_tokens 64] [--batch_size 8]
                               [--modes plain,fast,new] [--dtype auto|fp32] [--profile] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from bench.speed import baseline
from lib.files import storage
from lib.llm import generation, hardware, models
from lib.settings import config


def prompts_from_probes(n: int) -> list[str]:
    probe_dir = storage.PROJECT_ROOT / "data/probes"
    questions = [line.strip() for name in ("questions.txt", "generic_prompts.txt")
                 for line in (probe_dir / name).read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [questions[i % len(questions)] + ("" if i < len(questions) else f" ({i})") for i in range(n)]


def timed(fn):
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def hf_compiled(model, tokenizer, prompts, settings, chat_date):
    """Hugging Face's static cache + torch.compile recipe, batched like `generation.generate`."""
    import torch

    texts = [generation.chat_text(tokenizer, p, chat_date=chat_date) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = [""] * len(texts)
    tokenizer.padding_side = "left"
    model.eval()
    for start in range(0, len(order), settings.batch_size):
        batch = order[start:start + settings.batch_size]
        enc = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(model.device)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=settings.max_new_tokens, min_new_tokens=settings.min_new_tokens,
                                 do_sample=False, temperature=None, top_p=None, top_k=None,
                                 eos_token_id=models.stop_token_ids(tokenizer), pad_token_id=tokenizer.pad_token_id,
                                 cache_implementation="static")
        for i, row in zip(batch, ids[:, enc["input_ids"].shape[1]:]):
            out[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
    return out


def profile_fast(model, tokenizer, prompts, settings, chat_date) -> dict:
    """One batch of fast decoding under the profiler: GPU busy share and the kernels that take the time."""
    import torch

    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    start = time.perf_counter()
    with torch.profiler.profile(activities=activities) as prof:
        generation.generate(model, tokenizer, prompts[:settings.batch_size or 64], settings, chat_date=chat_date)
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    events = prof.key_averages()
    busy = sum(e.self_device_time_total for e in events) / 1e6
    table = events.table(sort_by="self_device_time_total", row_limit=15, max_name_column_width=60)
    print(f"PROFILE new batch of {settings.batch_size or 64}: wall {wall:.2f} s, GPU kernels {busy:.2f} s "
          f"({busy / wall:.0%} busy)\n{table}")
    return {"wall_s": round(wall, 3), "gpu_busy_s": round(busy, 3), "table": table}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=8, help="the previous paths' batch")
    parser.add_argument("--new_batch_size", type=int, default=0, help="the new path's rows (0: profile and memory)")
    parser.add_argument("--modes", default="plain,fast,new")
    parser.add_argument("--load_in_4bit", default="false")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on a GPU) or fp32 (no rounding differences)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import torch

    cfg = config.load_config(storage.PROJECT_ROOT / "config.yaml", model=args.model, load_in_4bit=args.load_in_4bit)
    dtype = torch.float32 if args.dtype == "fp32" else None
    loaded = models.load_model(cfg, dtype=dtype, backend="hf")
    model, tokenizer = loaded.model, loaded.tokenizer
    prompts = prompts_from_probes(args.prompts)
    # min_new_tokens: a random-weight model may stop at once; every answer is then exactly as long in every mode
    settings = generation.GenerationSettings(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                                             batch_size=args.batch_size)
    single = generation.GenerationSettings(**{**settings.as_dict(), "batch_size": 1})
    previous, previous_decoding = baseline.load()
    runs = {
        "plain": lambda: previous.generate(model, tokenizer, prompts, settings, chat_date=cfg.chat_date, fast=False),
        "fast": lambda: previous.generate(model, tokenizer, prompts, settings, chat_date=cfg.chat_date, fast=True),
        "new": lambda: generation.generate(model, tokenizer, prompts, dataclasses.replace(
            settings, batch_size=args.new_batch_size), chat_date=cfg.chat_date),
        "single": lambda: previous.generate(model, tokenizer, prompts, single, chat_date=cfg.chat_date, fast=False),
        "hf-compile": lambda: hf_compiled(model, tokenizer, prompts, settings, cfg.chat_date),
    }
    modes = args.modes.split(",")
    warm = generation.GenerationSettings(**{**settings.as_dict(), "max_new_tokens": 4, "min_new_tokens": 4})
    previous.generate(model, tokenizer, prompts[:2], warm, chat_date=cfg.chat_date, fast=False)  # untimed
    tokens = len(prompts) * args.max_new_tokens
    rows, answers = [], {}
    for mode in modes:
        for attempt in (("first call", "second call") if mode == "hf-compile" else ("",)):
            try:
                out, seconds = timed(runs[mode])
            except Exception as exc:  # one failing mode must not hide the others
                rows.append({"mode": f"{mode} {attempt}".strip(), "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
                print(rows[-1], flush=True)
                break
            answers.setdefault(mode, out)
            rows.append({"mode": f"{mode} {attempt}".strip(), "seconds": round(seconds, 2),
                         "tokens_per_s": round(tokens / seconds, 1)})
            if mode == "fast":  # did the decoding step run as a CUDA graph, or fall back to eager steps?
                rows[-1]["cuda_graphs"] = torch.cuda.is_available() and id(model) not in previous_decoding._broken
            print(rows[-1], flush=True)
    base = next((r["tokens_per_s"] for r in rows if r["mode"] == "plain" and "tokens_per_s" in r), None)
    for row in rows:
        name = row["mode"].split(" ")[0]
        if "tokens_per_s" in row and base:
            row["x_plain"] = round(row["tokens_per_s"] / base, 2)
        if name in answers and "plain" in answers:
            row["identical_to_plain"] = f"{sum(a == b for a, b in zip(answers[name], answers['plain']))}/{len(prompts)}"
    summary = {"model": args.model, "device": hardware.gpu_name() or "CPU", "dtype": str(model.dtype),
               "prompts": len(prompts), "new_tokens_each": args.max_new_tokens, "batch_size": args.batch_size,
               "rows": rows}
    if args.profile and torch.cuda.is_available():
        try:
            summary["profile"] = profile_fast(model, tokenizer, prompts, settings, cfg.chat_date)
        except Exception as exc:
            print(f"profile failed: {type(exc).__name__}: {exc}")
    print(f"{summary['device']}, {summary['dtype']}, {len(prompts)} prompts x {args.max_new_tokens} new tokens, "
          f"batch {args.batch_size}")
    print(f"{'mode':<24}{'seconds':>9}{'tokens/s':>11}{'x plain':>9}{'identical':>11}")
    for r in rows:
        if "error" in r:
            print(f"{r['mode']:<24}FAILED {r['error'][:200]}")
        else:
            print(f"{r['mode']:<24}{r['seconds']:>9.2f}{r['tokens_per_s']:>11.1f}{r.get('x_plain', 0):>9.2f}"
                  f"{r.get('identical_to_plain', ''):>11}")
    if args.json:
        storage.write_json(args.json, summary)


if __name__ == "__main__":
    main()
