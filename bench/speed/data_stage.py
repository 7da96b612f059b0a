"""Time and peak memory of the data stage as the corpus grows: is it linear in the text?

    .venv/bin/python -m bench.speed.data_stage [--scales 1,16,64,256] [--short 4000] [--paragraph_mb 5]
                                         [--corpus PATH --split_pattern ... ] [--model tiny] [--timeout 900]

Each row runs in a fresh child process (so its peak resident memory, `ru_maxrss`, is its own):
- `Nx`: N copies of the bundled sample (`data/sample/complete_corpus.txt`), every document renamed so that
  names stay distinct (N = 256 is ~3,000 documents, ~14 MB);
- `short`: that many short documents (~2,500 characters each, cut from the sample at paragraph ends: the
  many-letters corpus a patient has; 4,000 is ~10 MB);
- `paragraph`: one paragraph of that many MB with no sentence end, beside one sample document;
- `--corpus`: a real corpus as given (e.g. ../shared/corpora/schopenhauer with its split_pattern).
Columns: wall seconds per step (read = read + strip + split, clean, chunk, pairs = template pairs, write =
split by document + write the files), total, seconds per MB (flat when the stage is linear), the stage's CPU
seconds (its own work, whatever the machine's load), peak RSS of the child and its growth over the child's
RSS after the tokenizer was loaded. The researcher's question file is not used
(the sample's names the sample's documents). The tokenizer is the tiny model's unless --model names another.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib.files import storage
from lib.settings import config

SAMPLE = storage.PROJECT_ROOT / "data" / "sample" / "complete_corpus.txt"
MARKER = re.compile(r"^=== DOCUMENT: \[(?P<category>[^\]]+)\] (?P<name>.+?) ===$", re.M)
STEPS = ("read", "clean", "chunk", "pairs", "write")


# --- the corpora --------------------------------------------------------------------------------------

def sample_documents() -> list[tuple[str, str, str]]:
    """(category, name, text) of each document of the sample."""
    text = SAMPLE.read_text(encoding="utf-8")
    marks = list(MARKER.finditer(text))
    return [(m["category"], m["name"], text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else None].strip())
            for i, m in enumerate(marks)]


def write_corpus(path: Path, docs: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"=== DOCUMENT: [{c}] {n} ===\n{t}\n\n" for c, n, t in docs), encoding="utf-8")
    return path


def copies(path: Path, scale: int) -> Path:
    """`scale` copies of the sample, each document renamed `<stem>-<copy>.txt`."""
    docs = sample_documents()
    return write_corpus(path, [(c, f"{Path(n).stem}-{k:04d}.txt", t) for k in range(scale) for c, n, t in docs])


def short_documents(path: Path, n: int, chars: int = 2500) -> Path:
    """`n` documents of about `chars` characters, whole paragraphs of the sample taken in turn."""
    paragraphs = [(c, p) for c, _, t in sample_documents() for p in t.split("\n\n") if p.strip()]
    docs, at = [], 0
    for k in range(n):
        body, category = [], paragraphs[at % len(paragraphs)][0]
        while sum(map(len, body)) < chars:
            body.append(paragraphs[at % len(paragraphs)][1])
            at += 1
        docs.append((category, f"letter-{k:05d}.txt", "\n\n".join(body)))
    return write_corpus(path, docs)


def one_paragraph(path: Path, megabytes: float) -> Path:
    """One paragraph of `megabytes` MB with no sentence end (the sample's words, run together), beside one
    ordinary document (a split needs two)."""
    words = re.sub(r"[.!?;:\"'\u201c\u201d()]", "", " ".join(t for _, _, t in sample_documents())).split()
    text, size = [], 0
    while size < megabytes * 1e6:
        for w in words:
            text.append(w)
            size += len(w) + 1
    category, name, first = sample_documents()[0]
    return write_corpus(path, [(category, name, first), ("Run-on", "one_paragraph.txt", " ".join(text))])


# --- one row, in a child process ----------------------------------------------------------------------

def child(corpus_path: str, model: str, overrides: dict) -> dict:
    """Run the data stage's steps on one corpus; return seconds per step and memory."""
    from lib.data import chunking, cleaning, corpus, pairs, prepare
    from lib.llm import models

    out_dir = Path(tempfile.mkdtemp())
    cfg = config.load_config(storage.PROJECT_ROOT / "config.yaml", model=model, corpus=corpus_path,
                             processed_dir=str(out_dir), qa_file="null", **overrides)
    tokenizer = models.load_tokenizer(cfg)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = cpu_seconds()
    times: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return value

    docs = timed("read", lambda: corpus.from_config(cfg, verbose=False))
    chars = sum(len(d.text) for d in docs)
    docs, reports = timed("clean", lambda: cleaning.clean_corpus(docs, cfg.unwrap_lines))
    chunks = timed("chunk", lambda: chunking.chunk_corpus(docs, tokenizer, cfg.effective_chunk_tokens,
                                                          cfg.chunk_overlap))
    built, _ = timed("pairs", lambda: prepare.build_pairs(cfg, docs, tokenizer))
    split = timed("write", lambda: prepare.split_documents(docs, cfg.val_fraction, cfg.seed))
    timed("write", lambda: prepare.write_processed(
        out_dir, cfg, chunks=chunks, pair_rows=[pairs.to_chat(p) for p in built], split=split,
        documents=prepare.document_table(docs, reports, chunks, split), tokenizer_name=cfg.model))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"documents": len(docs), "mb": chars / 1e6, "chunks": len(chunks), "pairs": len(built),
            "seconds": times, "cpu": cpu_seconds() - cpu, "peak_mb": peak / 1024, "growth_mb": (peak - base) / 1024}


def cpu_seconds() -> float:
    """User + system CPU time of this process: the stage's own work, whatever else the machine is doing."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_row(label: str, corpus_path: Path, args, overrides: dict) -> dict:
    command = [sys.executable, "-m", "bench.speed.data_stage", "--child", str(corpus_path), "--model", args.model,
               "--overrides", json.dumps(overrides)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, cwd=storage.PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return {"label": label, "stopped": f"> {args.timeout} s (stopped)"}
    if done.returncode:
        return {"label": label, "stopped": f"failed: {done.stderr.strip().splitlines()[-1][:80]}"}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return {"label": label, "wall": time.perf_counter() - start, **row}


def print_table(rows: list[dict]) -> None:
    head = f"{'corpus':<14}{'docs':>7}{'MB':>7}" + "".join(f"{s:>8}" for s in STEPS) + \
        f"{'total s':>9}{'s/MB':>7}{'cpu s':>8}{'peak MB':>9}{'growth':>8}"
    print(head)
    for r in rows:
        if "stopped" in r:
            print(f"{r['label']:<14}{r['stopped']:>30}")
            continue
        total = sum(r["seconds"].values())
        print(f"{r['label']:<14}{r['documents']:>7}{r['mb']:>7.2f}"
              + "".join(f"{r['seconds'].get(s, 0):>8.1f}" for s in STEPS)
              + f"{total:>9.1f}{total / max(r['mb'], 1e-9):>7.1f}{r.get('cpu', float('nan')):>8.1f}"
              + f"{r['peak_mb']:>9.0f}{r['growth_mb']:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,16,64,256", help="copies of the sample, comma-separated ('' for none)")
    parser.add_argument("--short", type=int, default=4000, help="a corpus of this many short documents (0: none)")
    parser.add_argument("--paragraph_mb", type=float, default=5.0, help="one paragraph of this size (0: none)")
    parser.add_argument("--corpus", default=None, help="also a real corpus (give its split_pattern etc. below)")
    parser.add_argument("--split_pattern", default=None)
    parser.add_argument("--drop_sections", default=None)
    parser.add_argument("--strip_gutenberg", default=None)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a row is stopped")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.model, json.loads(args.overrides))))
        return
    work = Path(tempfile.mkdtemp())
    jobs = [(f"{s}x sample", copies(work / f"x{s}.txt", int(s)), {}) for s in args.scales.split(",") if s.strip()]
    if args.short:
        jobs.append((f"{args.short} short", short_documents(work / "short.txt", args.short), {}))
    if args.paragraph_mb:
        jobs.append((f"{args.paragraph_mb:g} MB para", one_paragraph(work / "para.txt", args.paragraph_mb), {}))
    if args.corpus:
        extra = {k: v for k in ("split_pattern", "drop_sections", "strip_gutenberg") if (v := getattr(args, k))}
        jobs.append((Path(args.corpus).name[:14], Path(args.corpus), extra))
    rows = []
    for label, path, overrides in jobs:
        rows.append(run_row(label, path, args, overrides))
        print(f"  done: {label}", file=sys.stderr, flush=True)
    print(f"data stage, model {args.model}, {time.strftime('%Y-%m-%d')}; seconds per step, peak resident memory")
    print_table(rows)
    if args.json:
        storage.write_json(args.json, rows)


if __name__ == "__main__":
    main()
