"""Data-parallel training on several GPUs: the same `train` command under `accelerate launch`, against one GPU.

Runs stage 1 at the Llama-3.2-3B shape (random weights, bench/speed/shape_model.py) for `--steps` optimiser steps
on one GPU, then on N GPUs with the same global batch (the hardware plan gives each process a share of the
accumulation), and prints tokens/s in total and per GPU, the speed-up, peak memory per GPU, and how far
the N-GPU loss curve is from the one-GPU curve. NVLink multicast stays off (NCCL_NVLS_ENABLE=0).

    python -m bench.speed.multi_gpu --gpus 2 --out DIR                 # on a machine with 2 GPUs
    python -m bench.speed.multi_gpu --cpu --model tiny --out DIR       # the plumbing, two CPU processes over gloo
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    from bench.speed import shape_model
    from bench.speed.train_matrix import SCHOPENHAUER

    parser = argparse.ArgumentParser()
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", default="/tmp/multi_gpu")
    parser.add_argument("--model", default=None)
    parser.add_argument("--cpu", action="store_true", help="two CPU processes over gloo (checks the plumbing)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(shape_model.build("/tmp/llama-3b-shape"))
    outputs = out / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "P4_OUTPUTS": str(outputs),
           "NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1",
           "OMP_NUM_THREADS": "1" if args.cpu else os.environ.get("OMP_NUM_THREADS", "4")}
    corpus = ROOT / ".carry/corpora/schopenhauer"
    corpus_args = ["--corpus", str(corpus), *SCHOPENHAUER] if corpus.exists() else []
    seq = "256" if args.cpu else "2048"
    data = ["--model", model, "--processed_dir", str(out / "data"), "--max_seq_length", seq]
    subprocess.run([sys.executable, "-m", "lib", "prepare", "--mode", "pretraining", *data, "--qa_file", "",
                    *corpus_args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    train = ["-m", "lib", "train", "--stage", "pretraining", *data, "--max_steps", str(args.steps),
             "--logging_steps", "1", "--eval_steps", "1000", "--save_steps", "1000", "--overwrite", "true",
             "--use_unsloth", "false"]
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
                str(args.gpus), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    runs = {1: [sys.executable, *train, "--run_name", "one"], args.gpus: [*launcher, *train, "--run_name", "many"]}
    results = {}
    for n, cmd in runs.items():
        log = out / f"gpus-{n}.log"
        with open(log, "w") as fh:
            done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            print(f"{n} process(es) FAILED:\n{log.read_text()[-2000:]}")
            raise SystemExit(1)
        stage = outputs / ("one" if n == 1 else "many") / "pretraining"
        manifest = json.loads((stage / "manifest.json").read_text())
        history = json.loads((stage / "log_history.json").read_text())
        results[n] = {"resources": manifest["resources"], "plan": manifest["plan"],
                      "loss": [(r["step"], r["loss"]) for r in history if "loss" in r]}
    one, many = results[1], results[args.gpus]
    speed = many["resources"]["tokens_per_second"] / one["resources"]["tokens_per_second"]
    diffs = [abs(a[1] - b[1]) for a, b in zip(one["loss"], many["loss"])]
    print(f"{'processes':<10}{'global batch':>13}{'tokens/s':>10}{'per process':>12}{'peak reserved':>15}")
    for n, r in results.items():
        res = r["resources"]
        print(f"{n:<10}{r['plan']['effective_batch']:>13}{res['tokens_per_second']:>10.0f}"
              f"{res['tokens_per_second'] / n:>12.0f}{res.get('peak_reserved_gib', 0):>14} GiB")
    print(f"speed-up x{speed:.2f} on {args.gpus}; loss curves: mean |difference| "
          f"{sum(diffs) / max(1, len(diffs)):.4f} over {len(diffs)} steps")
    (out / "multi_gpu.json").write_text(json.dumps({"speed_up": speed, **{str(k): v for k, v in results.items()}},
                                                   indent=1))


if __name__ == "__main__":
    main()
