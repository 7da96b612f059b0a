"""The whole pipeline at the real 3B shape, and the loss curve against the plain recipe.

1. `prepare`, stage 1 and stage 2 through the command line, full epochs, on the Schopenhauer essays
   (~1.5M characters, the size of the corpus the project is built for), with the hardware profile's
   defaults; prints the training time of each stage (evaluation excluded) from the stage manifests.
2. Quality: the plain recipe (4-bit, PEFT's standard preparation, batch 2 x 8, checkpointing) and the
   project's default, `--compare_steps` optimiser steps each on the same data, seed and schedule; prints
   both training-loss curves step by step and writes them as a PNG.

    python bench/pipeline.py --out DIR [--epochs 3] [--compare_steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PLAIN = ["--hardware_profile", "off", "--load_in_4bit", "true", "--lean_lora", "false", "--use_liger", "false",
         "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "8", "--gradient_checkpointing",
         "true", "--packing", "false"]


def main() -> None:
    import shape_model
    from train_matrix import SCHOPENHAUER

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/pipeline")
    parser.add_argument("--epochs", default="3")
    parser.add_argument("--compare_steps", type=int, default=20)
    parser.add_argument("--skip", default="", help="pipeline and/or quality")
    parser.add_argument("--model", default=None, help="another model (tiny) to check the script on CPU")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(shape_model.build("/tmp/llama-3b-shape"))
    outputs = Path("/tmp/p4-pipeline-outputs")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "P4_OUTPUTS": str(outputs)}
    corpus = ROOT / ".carry/corpora/schopenhauer"
    common = ["--model", model, "--processed_dir", "/tmp/p4-pipeline-data", "--max_seq_length", "2048",
              "--use_unsloth", "false", "--overwrite", "true"]
    run([sys.executable, "-m", "lib", "prepare", *common[:-2], "--corpus", str(corpus), "--qa_file", "",
         *SCHOPENHAUER], env, out / "prepare.log")
    summary = {}
    if "pipeline" not in args.skip:
        for stage in ("pretraining", "instruction"):
            run([sys.executable, "-m", "lib", "train", "--stage", stage, *common, "--run_name", "pipeline",
                 "--num_train_epochs", args.epochs, "--eval_steps", "40", "--save_steps", "100",
                 "--logging_steps", "5"], env, out / f"pipeline-{stage}.log")
            m = json.loads((outputs / "pipeline" / stage / "manifest.json").read_text())
            summary[stage] = {"steps": m["steps"], "plan": m["plan"], **m["resources"], "final": m["final"]}
            print(stage, json.dumps(summary[stage]), flush=True)
        total = sum(summary[s]["training_seconds"] for s in summary)
        print(f"PIPELINE training time, stage 1 + 2: {total:.0f} s ({total / 60:.1f} min)", flush=True)
    if "quality" not in args.skip:
        curves = {}
        for name, flags in (("plain recipe", PLAIN), ("project default", [])):
            slug = name.replace(" ", "-")
            run([sys.executable, "-m", "lib", "train", "--stage", "pretraining", *common, *flags, "--run_name", slug,
                 "--max_steps", str(args.compare_steps), "--eval_steps", "1000", "--logging_steps", "1",
                 "--save_steps", "1000"], env, out / f"quality-{slug}.log")
            history = json.loads((outputs / slug / "pretraining" / "log_history.json").read_text())
            curves[name] = [(r["step"], r["loss"]) for r in history if "loss" in r]
        summary["quality"] = curves
        compare(curves, out)
    (out / "pipeline.json").write_text(json.dumps(summary, indent=1))


def run(cmd: list[str], env: dict, log: Path) -> None:
    with open(log, "w") as fh:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(f"FAILED: {' '.join(cmd[:6])} ... see {log.name}:\n{log.read_text()[-1500:]}", flush=True)
        raise SystemExit(1)


def compare(curves: dict, out: Path) -> None:
    import numpy as np

    from lib import plots

    (a_name, a), (b_name, b) = curves.items()
    steps = sorted(set(s for s, _ in a) & set(s for s, _ in b))
    la, lb = dict(a), dict(b)
    diff = np.array([lb[s] - la[s] for s in steps])
    wobble = np.std(np.diff([la[s] for s in steps])) / np.sqrt(2)  # step-to-step noise of one curve
    print(f"QUALITY {len(steps)} steps: mean difference {diff.mean():+.4f}, mean |difference| "
          f"{np.abs(diff).mean():.4f} nats/token; step-to-step noise of the plain curve {wobble:.4f}")
    print("step " + " ".join(f"{s:>6}" for s in steps))
    print(f"{'plain':<5}" + " ".join(f"{la[s]:>6.3f}" for s in steps))
    print(f"{'proj':<5}" + " ".join(f"{lb[s]:>6.3f}" for s in steps))
    history = [{"step": s, "loss": la[s]} for s in steps]
    fig = plots.loss_curve(history, "training loss: plain recipe vs project default (same data, seed)")
    ax = fig.axes[0]
    ax.plot(steps, [lb[s] for s in steps], color="#dd8452", label="project default")
    ax.lines[0].set_label("plain recipe")
    ax.legend()
    plots.save(fig, out / "quality.png")


if __name__ == "__main__":
    main()
