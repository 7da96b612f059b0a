"""Generation throughput: batched (the project's `generation.generate`) against one prompt at a time.

Greedy decoding of the same prompts both ways, in one run; prints tokens per second of each, the ratio,
and how many outputs are identical (batching must not change what the study measures).

    python bench/generation.py [--model tiny|FOLDER] [--prompts 32] [--max_new_tokens 64] [--batch_size 16]
                               [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib import config, generation, models, storage  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--load_in_4bit", default="false")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on a GPU) or fp32 (no rounding differences)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cfg = config.load_config(storage.PROJECT_ROOT / "config.yaml", model=args.model, load_in_4bit=args.load_in_4bit)
    import torch

    dtype = torch.float32 if args.dtype == "fp32" else None
    loaded = models.load_model(cfg, dtype=dtype, backend="hf")
    model, tokenizer = loaded.model, loaded.tokenizer
    prompts = prompts_from_probes(args.prompts)
    # min_new_tokens: a random-weight model may stop at once; every answer is then exactly as long both ways
    settings = generation.GenerationSettings(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                                             batch_size=args.batch_size)
    single_settings = generation.GenerationSettings(**{**settings.as_dict(), "batch_size": 1})
    generation.generate(model, tokenizer, prompts[:2], settings, chat_date=cfg.chat_date)  # warm-up
    batched, t_batched = timed(lambda: generation.generate(model, tokenizer, prompts, settings,
                                                           chat_date=cfg.chat_date))
    single, t_single = timed(lambda: generation.generate(model, tokenizer, prompts, single_settings,
                                                         chat_date=cfg.chat_date))
    tokens = len(prompts) * args.max_new_tokens
    same = sum(a == b for a, b in zip(batched, single))
    rows = {"model": args.model, "device": models_device(model), "dtype": str(model.dtype), "prompts": len(prompts),
            "new_tokens_each": args.max_new_tokens, "batch_size": args.batch_size,
            "one_at_a_time_tokens_per_s": round(tokens / t_single, 1),
            "batched_tokens_per_s": round(tokens / t_batched, 1), "speed_up": round(t_single / t_batched, 2),
            "identical_outputs": f"{same}/{len(prompts)}"}
    print(f"{'mode':<16}{'seconds':>9}{'tokens/s':>11}")
    print(f"{'one at a time':<16}{t_single:>9.2f}{tokens / t_single:>11.1f}")
    print(f"{'batched':<16}{t_batched:>9.2f}{tokens / t_batched:>11.1f}")
    print(f"speed-up x{t_single / t_batched:.2f}; identical greedy outputs: {same}/{len(prompts)}")
    if args.json:
        storage.write_json(args.json, rows)


def models_device(model) -> str:
    from lib import hardware

    return hardware.gpu_name() or "CPU"


if __name__ == "__main__":
    main()
