"""GPU check of both training stages at the real Llama-3.2-3B shape (random weights), per backend.

Runs the project's own command line (`python -m lib prepare`, `python -m lib train`) once per backend in
a fresh process, a few optimiser steps of stage 1 then stage 2, and prints peak memory and tokens per
second from each stage's manifest. The T4 rows force the T4 profile (fp16, one sequence per step,
accumulation 16, gradient checkpointing): their peak memory is what a T4 user needs.

    python -m bench.speed.gpu_stages --out DIR [--corpus .carry/corpora/schopenhauer] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SPLIT = ["--split_pattern", r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$", "--strip_gutenberg", "true",
         "--drop_sections", r"(?i)translator|prefatory|^note"]
BACKENDS = {
    "hf 4-bit, T4 profile": ["--use_unsloth", "false", "--load_in_4bit", "true", "--hardware_profile", "t4"],
    "unsloth 4-bit, T4 profile": ["--use_unsloth", "true", "--load_in_4bit", "true", "--hardware_profile", "t4"],
    "hf 4-bit, auto profile": ["--use_unsloth", "false", "--load_in_4bit", "true"],
    "hf 16-bit, auto profile": ["--use_unsloth", "false", "--load_in_4bit", "false"],
}


def main() -> None:
    from bench.speed import shape_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/gpu_stages")
    parser.add_argument("--corpus", default=str(ROOT / ".carry/corpora/schopenhauer"))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--only", default=None, help="backend names separated by ';'")
    parser.add_argument("--model", default=None, help="another model folder (or tiny) to check the script")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(shape_model.build("/tmp/llama-3b-shape"))
    env = {**os.environ, "P4_OUTPUTS": "/tmp/p4-outputs", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    common = ["--model", model, "--processed_dir", "/tmp/p4-processed", "--max_seq_length", "2048"]
    corpus = args.corpus if Path(args.corpus).exists() else str(ROOT / "data/sample/complete_corpus.txt")
    extra = SPLIT if Path(args.corpus).exists() else []
    run([sys.executable, "-m", "lib", "prepare", *common, "--corpus", corpus, "--qa_file", "", *extra], env,
        out / "prepare.log")
    rows = []
    names = args.only.split(";") if args.only else list(BACKENDS)
    for name in names:
        flags = BACKENDS[name]
        slug = name.replace(" ", "").replace(",", "-")
        for stage, steps in (("pretraining", args.steps), ("instruction", max(1, args.steps - 1))):
            started = time.time()
            code = run([sys.executable, "-m", "lib", "train", "--stage", stage, *common, *flags, "--run_name", slug,
                        "--max_steps", str(steps), "--logging_steps", "1", "--eval_steps", "1000",
                        "--save_steps", "1000", "--overwrite", "true"], env, out / f"{slug}-{stage}.log")
            manifest = Path("/tmp/p4-outputs") / slug / stage / "manifest.json"
            if code != 0 or not manifest.exists():
                tail = (out / f"{slug}-{stage}.log").read_text()[-400:].replace("\n", " | ")
                rows.append({"backend": name, "stage": stage, "error": tail})
                break
            m = json.loads(manifest.read_text())
            r = m["resources"]
            rows.append({"backend": name, "stage": stage, "ran": m["backend"], "profile": m["plan"]["profile"],
                         "precision": m["plan"]["precision"], "micro x accum": f"{m['plan']['micro_batch']} x "
                         f"{m['plan']['gradient_accumulation']}", "steps": m["steps"],
                         "tokens/s": r["tokens_per_second"], "peak alloc GiB": r.get("peak_allocated_gib"),
                         "peak reserved GiB": r.get("peak_reserved_gib"), "wall s": round(time.time() - started)})
            (out / "gpu_stages.json").write_text(json.dumps(rows, indent=2))  # partial results survive a timeout
            print(rows[-1], flush=True)
    (out / "gpu_stages.json").write_text(json.dumps(rows, indent=2))
    print_table(rows)


def run(cmd: list[str], env: dict, log: Path) -> int:
    with open(log, "w") as fh:
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode


def print_table(rows: list[dict]) -> None:
    keys = ["backend", "stage", "ran", "profile", "precision", "micro x accum", "steps", "tokens/s",
            "peak alloc GiB", "peak reserved GiB", "wall s"]
    print(" | ".join(keys))
    for r in rows:
        if "error" in r:
            print(f"{r['backend']} | {r['stage']} | FAILED: {r['error']}")
        else:
            print(" | ".join(str(r.get(k, "")) for k in keys))


if __name__ == "__main__":
    main()
