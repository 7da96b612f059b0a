"""Run several training-throughput configurations (bench/train_throughput.py), each in a fresh process, and
print one table with the ratio to the plain QLoRA recipe measured in the same run.

    python bench/train_matrix.py --configs plain-qlora,plain-16bit,project-auto,project-t4 --seqs 2048 --out DIR

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

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
    import shape_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", required=True)
    parser.add_argument("--seqs", default="2048")
    parser.add_argument("--out", default="/tmp/train_matrix")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--profile", default="", help="configurations to profile (see train_throughput.py)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = str(shape_model.build("/tmp/llama-3b-shape"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    rows = []
    results = out / "train_matrix.jsonl"
    results.unlink(missing_ok=True)
    for seq in [int(s) for s in args.seqs.split(",")]:
        data = Path(f"/tmp/p4-bench-data-{seq}")
        prepare(model, seq, data, env)
        subprocess.run([sys.executable, str(ROOT / "bench/train_throughput.py"), args.configs, "--seq", str(seq),
                        "--model", model, "--data", str(data), "--steps", str(args.steps), "--json", str(results),
                        "--profile", args.profile],
                       cwd=ROOT, env=env)
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    (out / "train_matrix.json").write_text(json.dumps(rows, indent=1))
    table(rows)


def table(rows: list[dict]) -> None:
    base = {r["seq"]: r["tokens_per_s"] for r in rows if r.get("name") == "plain-qlora" and "tokens_per_s" in r}
    print(f"{'config':<28}{'seq':>6}{'tok/s':>9}{'x plain':>8}{'step s':>8}{'MFU':>6}{'alloc':>7}{'resv':>7}  shape")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<28}{r['seq']:>6}  FAILED {r['error'][-300:]!r}")
            continue
        ratio = r["tokens_per_s"] / base[r["seq"]] if r["seq"] in base else float("nan")
        shape = (f"{r['micro_batch']}x{r['accumulation']} {'4bit' if r['four_bit'] else '16bit'}"
                 f"{' gc' if r['checkpointing'] else ''} {r.get('attention', 'sdpa')}"
                 f"{' liger' if r.get('liger') else ''}{' compiled' if r.get('compile') else ''}"
                 f"{' unsloth' if r.get('backend') == 'unsloth' else ''}"
                 f" dropout {r.get('lora_dropout', 0.05)}")
        print(f"{r['name']:<28}{r['seq']:>6}{r['tokens_per_s']:>9.0f}{ratio:>8.2f}{r['step_s']:>8.2f}"
              f"{r['mfu']:>6.2f}{r['peak_allocated_gib']:>7.1f}{r['peak_reserved_gib']:>7.1f}  {shape}")


if __name__ == "__main__":
    main()
