"""Run several training-throughput configurations (bench/speed/train_throughput.py), each in a fresh process, and
print one table with the ratio to the plain QLoRA recipe measured in the same run.

    python -m bench.speed.train_matrix --configs plain-qlora,plain-16bit,project-auto,project-t4 --seqs 2048 --out DIR
    python -m bench.speed.train_matrix --configs project-auto --steps 10 --pipeline   # both benchmarks' figures, one run

`--pipeline` also trains each project configuration through the command line, as bench/speed/pipeline.py does
(`python -m lib train`, same data, `--warmup + --steps` steps) and prints that run's own figure (real tokens
after the first optimiser step, from its manifest) beside this harness's: the window after `--warmup` steps,
and the same after-the-first-step figure computed from the harness's per-step marks.

The data is the Schopenhauer essays (carried in .carry/corpora; the sample corpus otherwise), prepared by
the project at each sequence length with the shape model's tokenizer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCHOPENHAUER = ["--split_pattern", r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$", "--strip_gutenberg", "true",
                "--drop_sections", r"(?i)translator|prefatory|^note"]


def prepare(model: str, seq: int, folder: Path, env: dict) -> None:
    corpus = ROOT / ".carry/corpora/schopenhauer"
    extra = SCHOPENHAUER if corpus.exists() else []
    corpus_arg = str(corpus) if corpus.exists() else str(ROOT / "data/sample/complete_corpus.txt")
    if not (folder / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "lib", "prepare", "--mode", "pretraining", "--model", model,
                        "--corpus", corpus_arg, "--qa_file", "", "--max_seq_length", str(seq), "--processed_dir",
                        str(folder), *extra], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        (folder / "pretraining_val.jsonl").write_text("")  # no evaluation inside timed steps


def main() -> None:
    from bench.speed import shape_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", required=True)
    parser.add_argument("--seqs", default="2048")
    parser.add_argument("--out", default="/tmp/train_matrix")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--model", default=None, help="another model (tiny) to check the script on CPU")
    parser.add_argument("--profile", default="", help="configurations to profile (see train_throughput.py)")
    parser.add_argument("--pipeline", action="store_true", help="also train each project-* configuration "
                        "through the command line (bench/speed/pipeline.py's path) and print its figure alongside")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = args.model or str(shape_model.build("/tmp/llama-3b-shape"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    rows = []
    results = out / "train_matrix.jsonl"
    results.unlink(missing_ok=True)
    for seq in [int(s) for s in args.seqs.split(",")]:
        data = Path(f"/tmp/p4-bench-data-{seq}" + ("-" + Path(args.model).name if args.model else ""))
        prepare(model, seq, data, env)
        subprocess.run([sys.executable, "-m", "bench.speed.train_throughput", args.configs, "--seq", str(seq),
                        "--model", model, "--data", str(data), "--steps", str(args.steps), "--json", str(results),
                        "--profile", args.profile, "--warmup", str(args.warmup)],
                       cwd=ROOT, env=env)
        if args.pipeline:
            for name in [n for n in args.configs.split(",") if n.startswith("project")]:
                with open(results, "a") as fh:
                    fh.write(json.dumps(through_cli(name, model, seq, data, args.warmup + args.steps, env)) + "\n")
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    (out / "train_matrix.json").write_text(json.dumps(rows, indent=1))
    table(rows)


def through_cli(name: str, model: str, seq: int, data: Path, steps: int, env: dict) -> dict:
    """One project configuration trained by `python -m lib train` (bench/speed/pipeline.py's path) for `steps` steps on
    the same data; the figure its manifest reports (tokens per second after the first optimiser step)."""
    import tempfile

    from bench.speed.train_throughput import PROJECT

    outputs = Path(tempfile.mkdtemp(prefix="p4-matrix-cli-"))
    flags = [part for k, v in PROJECT[name].items() for part in (f"--{k}", str(v).lower() if isinstance(v, bool)
                                                                   else str(v))]
    done = subprocess.run([sys.executable, "-m", "lib", "train", "--stage", "pretraining", "--model", model,
                           "--processed_dir", str(data), "--max_seq_length", str(seq), "--use_unsloth", "false",
                           "--run_name", "cli", "--max_steps", str(steps), "--logging_steps", "1", "--eval_steps",
                           "1000", "--save_steps", "100000", *flags], cwd=ROOT, env={**env, "P4_OUTPUTS": str(outputs)},
                          capture_output=True, text=True)
    if done.returncode != 0:
        return {"name": f"{name} (command line)", "seq": seq, "error": done.stderr[-400:]}
    r = json.loads((outputs / "cli" / "pretraining" / "manifest.json").read_text())["resources"]
    return {"name": f"{name} (command line)", "seq": seq, "cli": True, "tokens_per_s": r["tokens_per_second"],
            "after_first_step_tokens_per_s": r.get("steady_tokens_per_second"),
            "first_step_s": r.get("first_step_seconds"), "training_s": r["training_seconds"]}


def table(rows: list[dict]) -> None:
    base = {r["seq"]: r["tokens_per_s"] for r in rows if r.get("name") == "plain-qlora" and "tokens_per_s" in r}
    print(f"{'config':<28}{'seq':>6}{'tok/s':>9}{'x plain':>8}{'step s':>8}{'MFU':>6}{'alloc':>7}{'resv':>7}  shape")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<28}{r['seq']:>6}  FAILED {r['error'][-300:]!r}")
            continue
        if r.get("cli"):
            print(f"{r['name']:<28}{r['seq']:>6}{'':>9}{'':>8}{'':>8}{'':>6}{'':>7}{'':>7}  whole run "
                  f"{r['tokens_per_s']:.0f} tok/s, after its first step {r['after_first_step_tokens_per_s'] or 0:.0f} "
                  f"(first step {r['first_step_s']} s)")
            continue
        ratio = r["tokens_per_s"] / base[r["seq"]] if r["seq"] in base else float("nan")
        shape = (f"{r['micro_batch']}x{r['accumulation']} {'4bit' if r['four_bit'] else '16bit'}"
                 f"{' gc' if r['checkpointing'] else ''} {r.get('attention', 'sdpa')}"
                 f"{' liger' if r.get('liger') else ''}{' compiled' if r.get('compile') else ''}"
                 f"{' unsloth' if r.get('backend') == 'unsloth' else ''}"
                 f" dropout {r.get('lora_dropout', 0.05)}")
        after = (f"; after the first step {r['after_first_step_tokens_per_s']:.0f}, graphs compiled since "
                 f"{r.get('graphs_compiled_after_first_step')}" if "after_first_step_tokens_per_s" in r else "")
        print(f"{r['name']:<28}{r['seq']:>6}{r['tokens_per_s']:>9.0f}{ratio:>8.2f}{r['step_s']:>8.2f}"
              f"{r['mfu']:>6.2f}{r['peak_allocated_gib']:>7.1f}{r['peak_reserved_gib']:>7.1f}  {shape}{after}")
        if r.get("steps_after_first"):
            print(" " * 34 + "steps after the first (s, tokens): " +
                  ", ".join(f"{t:.2f}/{n}" for t, n in r["steps_after_first"]))


if __name__ == "__main__":
    main()
