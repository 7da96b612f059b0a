"""Stage 2 three ways from the same stage-1 adapter, same data, seed and epochs, in one run:
packed and compiled (the profile's choice on a GPU), packed and eager (sdpa), and padded pairs (how stage 2 ran
before: `packing: false`, eager). Prints training time, time to the first optimiser step, tokens per second
overall and after the first step, the ratio to padded, the held-out loss, and the training-loss curves against
the share of training done (so runs with other step counts line up).

    python -m bench.speed.stage2 --out DIR [--epochs 1] [--variants packed-compiled,packed-eager,padded]
           [--model /tmp/llama-3b-shape | tiny] [--outputs DIR]

A stage-1 adapter comes from `--stage1 RUN_FOLDER/pretraining` or is trained first for `--stage1_steps` steps
(eager; only its existence matters here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

VARIANTS = {
    "packed-compiled": [],
    "packed-eager": ["--torch_compile", "false", "--attn_implementation", "sdpa"],
    "padded": ["--packing", "false"],
}


def main() -> None:
    import numpy as np

    from bench.speed import shape_model
    from bench.speed.pipeline import curve, run, stage_summary, table
    from bench.speed.train_matrix import SCHOPENHAUER

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/stage2")
    parser.add_argument("--epochs", default="1")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--model", default=None)
    parser.add_argument("--outputs", default="/tmp/p4-stage2-outputs")
    parser.add_argument("--processed_dir", default="/tmp/p4-pipeline-data")
    parser.add_argument("--stage1", default=None, help="a finished stage-1 folder to start from")
    parser.add_argument("--stage1_steps", default="1")
    parser.add_argument("--max_steps", default="-1", help="a few steps instead of full epochs (checking on CPU)")
    parser.add_argument("--eval_steps", default="11", help="held-out loss every N steps (and at the start)")
    args = parser.parse_args()
    out, outputs = Path(args.out), Path(args.outputs)
    out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(shape_model.build("/tmp/llama-3b-shape"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "P4_OUTPUTS": str(outputs)}
    common = ["--model", model, "--processed_dir", args.processed_dir, "--max_seq_length", "2048",
              "--use_unsloth", "false", "--overwrite", "true"]
    if not (Path(args.processed_dir) / "manifest.json").exists():
        corpus = ROOT / ".carry/corpora/schopenhauer"
        corpus = corpus if corpus.exists() else ROOT.parent / "shared/corpora/schopenhauer"
        run([sys.executable, "-m", "lib", "prepare", *common[:-2], "--corpus", str(corpus), "--qa_file", "",
             *SCHOPENHAUER], env, out / "prepare.log")
    stage1 = Path(args.stage1) if args.stage1 else outputs / "stage1" / "pretraining"
    if not args.stage1:
        run([sys.executable, "-m", "lib", "train", "--stage", "pretraining", *common, "--run_name", "stage1",
             "--max_steps", args.stage1_steps, "--torch_compile", "false", "--eval_steps", "1000",
             "--save_steps", "1000"], env, out / "stage1.log")
    stages, curves = {}, {}
    for name in args.variants.split(","):
        shutil.rmtree(outputs / name, ignore_errors=True)
        shutil.copytree(stage1, outputs / name / "pretraining", ignore=shutil.ignore_patterns("checkpoints"))
        wall = run([sys.executable, "-m", "lib", "train", "--stage", "instruction", *common, "--run_name", name,
                    "--num_train_epochs", args.epochs, "--max_steps", args.max_steps, "--eval_steps", args.eval_steps,
                    "--save_steps", "1000", "--logging_steps", "1", *VARIANTS[name]], env, out / f"{name}.log")
        stages[name] = stage_summary(outputs / name / "instruction", wall)
        curves[name] = curve(outputs / name / "instruction")
        print(name, json.dumps(stages[name]), flush=True)
        (out / "stage2.json").write_text(json.dumps({"stages": stages}, indent=1))  # partial results survive
    table(stages)
    summary = {"stages": stages, "comparison": {}}
    if "padded" in stages:
        base = stages["padded"]
        a = curves["padded"]
        noise = float(np.std(np.diff([loss for _, loss in a])) / np.sqrt(2))
        for name, s in stages.items():
            if name == "padded":
                continue
            b = curves[name]
            grid = np.linspace(max(a[0][0], b[0][0]), 1.0, 20)
            diff = np.interp(grid, *zip(*b)) - np.interp(grid, *zip(*a))
            summary["comparison"][name] = c = {
                "x_padded": round(s["tokens_per_second"] / base["tokens_per_second"], 2),
                "x_padded_after_first_step": round((s["steady_tokens_per_second"] or 0)
                                                   / (base["steady_tokens_per_second"] or 1), 2),
                "training_loss_mean_difference": round(float(diff.mean()), 4),
                "training_loss_mean_abs_difference": round(float(np.abs(diff).mean()), 4),
                "padded_step_to_step_noise": round(noise, 4),
                "eval_loss": s["final"].get("eval_loss"), "padded_eval_loss": base["final"].get("eval_loss")}
            print(f"{name} vs padded: x{c['x_padded']} tokens/s (x{c['x_padded_after_first_step']} after the first "
                  f"step); training loss over the run: mean difference {c['training_loss_mean_difference']:+.4f}, "
                  f"mean |difference| {c['training_loss_mean_abs_difference']:.4f} (padded step-to-step noise "
                  f"{noise:.4f}); held-out loss {c['eval_loss']} against {c['padded_eval_loss']}")
    (out / "stage2.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
