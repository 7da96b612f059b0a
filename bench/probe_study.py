"""`04_probe_study` end to end, timed cell by cell: every arm of a run, the default probe counts.

Runs the calls the notebook's cells make (open the study, the four claims, the questionnaire, the report),
in this process, and prints the time of each and how much of it was generation (calls, answers, tokens).
A run without finished stages gets them first: stage 1, stage 2 and the SFT-only arm, a few optimiser steps
each (`--train_steps`), so that every arm exists; their quality is irrelevant to the timing.
`--plain` times the study with Hugging Face's `generate` instead of fast decoding (lib/decoding.py).

    python bench/probe_study.py --model /tmp/llama-3b-shape --run_name pipeline --outputs DIR [--plain] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def ensure_arms(args, env: dict) -> None:
    """Prepare the data if needed and train whatever stage the run lacks, a few steps each (stage 2 from
    stage 1, and from the base)."""
    from train_matrix import SCHOPENHAUER

    if not (Path(args.processed_dir) / "manifest.json").exists():
        corpus = ROOT / ".carry/corpora/schopenhauer"
        corpus = corpus if corpus.exists() else ROOT.parent / "shared/corpora/schopenhauer"
        subprocess.run([sys.executable, "-m", "lib", "prepare", "--model", args.model, "--processed_dir",
                        args.processed_dir, "--max_seq_length", "2048", "--corpus", str(corpus), "--qa_file", "",
                        *SCHOPENHAUER], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    run = Path(args.outputs) / args.run_name
    common = ["--model", args.model, "--processed_dir", args.processed_dir, "--max_seq_length", "2048",
              "--use_unsloth", "false", "--run_name", args.run_name, "--max_steps", str(args.train_steps),
              "--eval_steps", "1000", "--save_steps", "1000", "--logging_steps", "1", "--torch_compile", "false"]
    for stage, folder, extra in (("pretraining", "pretraining", []), ("instruction", "instruction", []),
                                 ("instruction", "sft_only", ["--init_from", "base"])):
        if not (run / folder / "manifest.json").exists():
            done = subprocess.run([sys.executable, "-m", "lib", "train", "--stage", stage, *common, *extra],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"training {folder} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


class GenerationClock:
    """Wraps `generation.generate` to count calls, answers, new tokens and seconds."""

    def __init__(self, tokenizer_holder: dict):
        from lib import generation

        self.original = generation.generate
        self.holder = tokenizer_holder
        self.calls = self.answers = self.tokens = self.batches = self.steps = 0
        self.seconds = 0.0
        generation.generate = self

    def __call__(self, model, tokenizer, prompts, settings=None, **kwargs):
        import torch

        started = time.perf_counter()
        out = self.original(model, tokenizer, prompts, settings, **kwargs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - started
        self.calls += 1
        settings = settings or self.defaults()
        batches = -(-len(prompts) // settings.batch_size)
        self.batches += batches
        self.steps += batches * settings.max_new_tokens  # decoding steps at most (a batch stops when all rows do)
        self.answers += len(out)
        self.tokens += sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in out)
        return out

    @staticmethod
    def defaults():
        from lib import generation

        return generation.GenerationSettings()

    def snapshot(self) -> dict:
        return {"calls": self.calls, "batches": self.batches, "max_decoding_steps": self.steps, "answers": self.answers,
                "tokens": self.tokens, "seconds": round(self.seconds, 1)}


def full_size_probes(cfg, folder: Path) -> Path:
    """The bundled probe set at its full sizes, declared to belong to the benchmark's corpus (the study refuses
    another corpus's probes; for a timing, what is asked matters, not whose questions they are)."""
    import shutil

    from lib import storage
    from lib.data import processed

    shutil.copytree(ROOT / "data" / "probes", folder, dirs_exist_ok=True)
    documents = processed.read_manifest(cfg)["documents"]
    storage.write_json(folder / "PROBES.json", {"corpus": cfg.corpus, "author_names": [],
                                                "documents": documents["train"] + documents["validation"]})
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="/tmp/llama-3b-shape")
    parser.add_argument("--run_name", default="pipeline")
    parser.add_argument("--outputs", default="/tmp/p4-pipeline-outputs")
    parser.add_argument("--processed_dir", default="/tmp/p4-pipeline-data")
    parser.add_argument("--train_steps", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="Hugging Face's generate, not fast decoding")
    parser.add_argument("--authorship_words", type=int, default=150,
                        help="fewer where the model's answers are short (the tiny model on CPU)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    os.environ.update(P4_OUTPUTS=args.outputs, HF_HUB_OFFLINE="1")
    ensure_arms(args, dict(os.environ))
    from lib import config, decoding
    from lib.study import domination, inextricability, replica, report, steerability
    from lib.study import study as probe_study

    if args.plain:
        decoding.supported = lambda model: False  # every generation through Hugging Face's generate
    cfg = config.load_config(ROOT / "config.yaml", model=args.model, run_name=args.run_name,
                             processed_dir=args.processed_dir, authorship_words=args.authorship_words)
    cfg = cfg.replace(probe_dir=str(full_size_probes(cfg, Path(args.outputs) / "probes")))
    clock = GenerationClock({})
    steps, started = [], time.perf_counter()

    def cell(name, fn):
        before, t0 = clock.snapshot(), time.perf_counter()
        value = fn()
        after = clock.snapshot()
        steps.append({"cell": name, "seconds": round(time.perf_counter() - t0, 1),
                      **{f"generation_{k}": round(after[k] - before[k], 1) for k in after}})
        print(json.dumps(steps[-1]), flush=True)
        return value

    study = cell("open study (arms, authorship)", lambda: probe_study.open_study(cfg))
    claims = [cell(f"claim {i + 1}", lambda m=m: m.run(study))
              for i, m in enumerate((inextricability, steerability, replica))]

    cell("questionnaire", lambda: replica.questionnaire_files(study, cfg.questionnaire_arm))
    claims.append(cell("claim 4", lambda: domination.run(study)))
    cell("report", lambda: report.save(study, claims))
    total = time.perf_counter() - started
    import torch

    from lib import hardware

    summary = {"device": hardware.gpu_name() or "CPU", "model": args.model, "arms": study.arms.names + ["retrieval"],
               "generation": "plain (Hugging Face generate)" if args.plain
               else "fast (lib/decoding.py) where supported",
               "total_seconds": round(total, 1), "generation_total": clock.snapshot(), "cells": steps,
               "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 1024 ** 3, 2)
               if torch.cuda.is_available() else None}
    print(f"{'cell':<32}{'seconds':>9}{'generating':>12}{'answers':>9}{'tokens':>8}")
    for s in steps:
        print(f"{s['cell']:<32}{s['seconds']:>9.1f}{s['generation_seconds']:>12.1f}{s['generation_answers']:>9.0f}"
              f"{s['generation_tokens']:>8.0f}")
    g = summary["generation_total"]
    print(f"04_probe_study on {summary['device']} ({summary['generation']}): {total:.0f} s in all, "
          f"{g['seconds']:.0f} s "
          f"generating {g['answers']} answers / {g['tokens']} tokens in {g['calls']} calls; arms {summary['arms']}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
