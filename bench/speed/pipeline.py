"""The whole pipeline at the real 3B shape, stage 2 packed against padded, and the loss curve against the plain recipe.

1. `prepare`, stage 1 and stage 2 through the command line, full epochs, on the Schopenhauer essays
   (~1.5M characters, the size of the corpus the project is built for) with Llama-3.2's real tokenizer
   (bench/speed/shape_model.py), with the hardware profile's defaults. Prints, per stage, the training time
   (evaluation excluded, compiling included), the time to the first optimiser step (where compiling happens),
   tokens per second overall and after the first step, and the process's wall time.
2. `--stage2_padded`: stage 2 again from the same stage-1 adapter, same data, seed and epochs, with pairs
   padded per batch (`packing: false`, eager: how stage 2 ran before): tokens per second of both, the
   training-loss curves against the share of training done, and the held-out loss of both.
3. Quality (unless skipped): the plain recipe (4-bit, PEFT's standard preparation, batch 2 x 8,
   checkpointing) and the project's default, `--compare_steps` optimiser steps of stage 1 each on the same
   data, seed and schedule; prints both training-loss curves and writes them as a PNG.

    python -m bench.speed.pipeline --out DIR [--epochs 3] [--stage2_padded] [--skip quality] [--compare_steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PLAIN = ["--hardware_profile", "off", "--load_in_4bit", "true", "--lean_lora", "false", "--use_liger", "false",
         "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "8", "--gradient_checkpointing",
         "true", "--packing", "false"]


def main() -> None:
    from bench.speed import shape_model
    from bench.speed.train_matrix import SCHOPENHAUER

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/pipeline")
    parser.add_argument("--epochs", default="3")
    parser.add_argument("--compare_steps", type=int, default=20)
    parser.add_argument("--skip", default="", help="pipeline and/or quality")
    parser.add_argument("--stage2_padded", action="store_true", help="stage 2 again with padded pairs, compared")
    parser.add_argument("--model", default=None, help="another model (tiny) to check the script on CPU")
    parser.add_argument("--outputs", default="/tmp/p4-pipeline-outputs")
    parser.add_argument("--max_steps", default="-1", help="a few steps instead of full epochs (checking on CPU)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(shape_model.build("/tmp/llama-3b-shape"))
    outputs = Path(args.outputs)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "P4_OUTPUTS": str(outputs)}
    corpus = ROOT / ".carry/corpora/schopenhauer"
    if not corpus.exists():
        corpus = ROOT.parent / "shared/corpora/schopenhauer"
    common = ["--model", model, "--processed_dir", "/tmp/p4-pipeline-data", "--max_seq_length", "2048",
              "--use_unsloth", "false", "--overwrite", "true"]
    run([sys.executable, "-m", "lib", "prepare", *common[:-2], "--corpus", str(corpus), "--qa_file", "",
         *SCHOPENHAUER], env, out / "prepare.log")
    summary: dict = {"stages": {}}
    train = ["--num_train_epochs", args.epochs, "--max_steps", args.max_steps, "--eval_steps", "40",
             "--save_steps", "1000", "--logging_steps", "1"]
    if "pipeline" not in args.skip:
        for stage in ("pretraining", "instruction"):
            wall = run([sys.executable, "-m", "lib", "train", "--stage", stage, *common, "--run_name", "pipeline",
                        *train], env, out / f"pipeline-{stage}.log")
            summary["stages"][stage] = stage_summary(outputs / "pipeline" / stage, wall)
            print(stage, json.dumps(summary["stages"][stage]), flush=True)
        total = sum(summary["stages"][s]["training_seconds"] for s in summary["stages"])
        summary["training_seconds_total"] = total
        table(summary["stages"])
        print(f"PIPELINE training time, stage 1 + 2: {total:.0f} s ({total / 60:.1f} min), compiling included",
              flush=True)
    if args.stage2_padded:
        padded_run = outputs / "pipeline-padded"
        shutil.rmtree(padded_run, ignore_errors=True)
        shutil.copytree(outputs / "pipeline" / "pretraining", padded_run / "pretraining",
                        ignore=shutil.ignore_patterns("checkpoints"))
        wall = run([sys.executable, "-m", "lib", "train", "--stage", "instruction", *common, "--run_name",
                    "pipeline-padded", "--packing", "false", *train], env, out / "padded-instruction.log")
        summary["stages"]["instruction (padded)"] = stage_summary(padded_run / "instruction", wall)
        summary["stage2"] = compare_stage2(outputs / "pipeline" / "instruction", padded_run / "instruction",
                                           summary["stages"])
        table(summary["stages"])
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


def run(cmd: list[str], env: dict, log: Path) -> float:
    """Run a command line, its output into `log`; its wall time (process start to exit, loading included)."""
    started = time.time()
    with open(log, "w") as fh:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(f"FAILED: {' '.join(cmd[:6])} ... see {log.name}:\n{log.read_text()[-1500:]}", flush=True)
        raise SystemExit(1)
    return round(time.time() - started, 1)


def stage_summary(folder: Path, wall: float) -> dict:
    m = json.loads((folder / "manifest.json").read_text())
    r = m["resources"]
    return {"steps": m["steps"], "tokens": r["tokens"], "training_seconds": r["training_seconds"],
            "first_step_seconds": r.get("first_step_seconds"), "tokens_per_second": r["tokens_per_second"],
            "steady_tokens_per_second": r.get("steady_tokens_per_second"), "process_wall_seconds": wall,
            "peak_reserved_gib": r.get("peak_reserved_gib"), "final": m["final"],
            "plan": {k: m["plan"][k] for k in ("profile", "precision", "micro_batch", "gradient_accumulation",
                                                "attention", "compile", "examples_per_row")
                     if k in m["plan"]}}


def table(stages: dict) -> None:
    print(f"{'stage':<22}{'steps':>6}{'tokens':>9}{'train s':>9}{'1st step s':>11}{'tok/s':>8}{'steady':>8}"
          f"{'wall s':>8}{'eval loss':>10}  shape")
    for name, s in stages.items():
        p = s["plan"]
        shape = (f"{p['micro_batch']}x{p['gradient_accumulation']} {p['attention']}"
                 + (" compiled" if p["compile"] else "")
                 + (f", {p['examples_per_row']:.1f} pairs/row" if p.get("examples_per_row", 1) > 1 else ""))
        print(f"{name:<22}{s['steps']:>6}{s['tokens']:>9}{s['training_seconds']:>9.1f}"
              f"{s['first_step_seconds'] or 0:>11.1f}{s['tokens_per_second']:>8.0f}"
              f"{s['steady_tokens_per_second'] or 0:>8.0f}"
              f"{s['process_wall_seconds']:>8.0f}{s['final'].get('eval_loss') or float('nan'):>10.4f}  {shape}")


def curve(folder: Path) -> list[tuple[float, float]]:
    """Training loss against the share of training done (0-1), so runs with other step counts line up."""
    history = json.loads((folder / "log_history.json").read_text())
    points = [(r["step"], r["loss"]) for r in history if "loss" in r]
    last = max(s for s, _ in points)
    return [(s / last, loss) for s, loss in points]


def compare_stage2(packed: Path, padded: Path, stages: dict) -> dict:
    import numpy as np

    a, b = curve(padded), curve(packed)
    grid = np.linspace(max(a[0][0], b[0][0]), 1.0, 20)
    pa = np.interp(grid, *zip(*a))
    pb = np.interp(grid, *zip(*b))
    noise = float(np.std(np.diff([loss for _, loss in a])) / np.sqrt(2))
    s_packed, s_padded = stages["instruction"], stages["instruction (padded)"]
    result = {"speed_up": round(s_packed["tokens_per_second"] / s_padded["tokens_per_second"], 2),
              "steady_speed_up": round((s_packed["steady_tokens_per_second"] or 0)
                                       / (s_padded["steady_tokens_per_second"] or 1), 2),
              "mean_difference": round(float((pb - pa).mean()), 4),
              "mean_abs_difference": round(float(np.abs(pb - pa).mean()), 4), "padded_step_noise": round(noise, 4),
              "eval_loss": {"packed": s_packed["final"].get("eval_loss"), "padded": s_padded["final"].get("eval_loss")}}
    print(f"STAGE 2 packed vs padded: x{result['speed_up']} tokens/s (x{result['steady_speed_up']} after the first "
          f"step); training loss (20 points over the run) mean difference {result['mean_difference']:+.4f}, "
          f"mean |difference| {result['mean_abs_difference']:.4f}, step-to-step noise of the padded curve "
          f"{noise:.4f}; held-out loss packed {result['eval_loss']['packed']}, padded {result['eval_loss']['padded']}")
    print("share  " + " ".join(f"{g:>6.2f}" for g in grid))
    print("padded " + " ".join(f"{x:>6.3f}" for x in pa))
    print("packed " + " ".join(f"{x:>6.3f}" for x in pb))
    return result


def compare(curves: dict, out: Path) -> None:
    import numpy as np

    from lib.view import plots

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
