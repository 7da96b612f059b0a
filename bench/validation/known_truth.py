"""Does the study detect a real effect, and only a real one? The study run on a small language model whose
truth is known, because the project made every effect itself.

1. A population model (bench/validation/population_model.py): the project's tokenizer recipe and a Llama-shaped model
   pretrained on ../shared/corpora/population, a few authors held out.
2. Arms of known truth, each trained from it with the project's own stages (`lib.data.prepare.run`, then
   `lib.train.stage.train_stage`, the population model as `model`): author A at 25%, 100% and 300% of the
   default number of stage-1 steps (0% is the base model); placebo B (another author, as many steps and
   tokens as A at 100%); shuffled A (A's documents, words shuffled within sentences: A's vocabulary and
   topics without A's syntax, as many steps); A's stage 2 on pairs from A's documents.
3. The study's own measures (`lib.study`) on every arm: probes drafted by the project's drafting from A's
   held-out documents, the generic side from the held-out population authors (never in pretraining).
4. The known-truth table (printed, known_truth.json / .md, dose_response.png): each measure per arm with its
   interval, whether it moves the right way with dose, and whether a placebo moves it (toward the author: a
   false author effect) or leaves it flat.
5. Calibration (bench/validation/calibration.py) on pools of 500+ probes: pool.json keeps every probe's value per arm,
   so the tables and calibration can be recomputed without a GPU against whatever statistics `lib.study` has
   then (`--from_pool`); generations.jsonl.gz keeps every generated text, to score again.

    python -m bench.validation.known_truth --out DIR                      # on a GPU (about 8 minutes on an H100)
    python -m bench.validation.known_truth --smoke --out DIR              # CPU, a few thousand tokens, a few steps
    python -m bench.validation.known_truth --from_pool RUN_DIR --out DIR  # a finished run's tables, today's statistics

Measures that need a chat model (instruction compliance, new-context stance, voice override, the DigiDan
test, domination's answers beside passages) are not run: the population model was never chat-tuned.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from bench.validation import calibration  # noqa: E402
from bench.validation import known_truth_study as truth  # noqa: E402
from bench.validation import known_truth_tables as tables  # noqa: E402
from bench.validation import population_model  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
SCHOPENHAUER_HEADINGS = r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$"   # as lib.study.oracle splits the two default authors
CHESTERTON_HEADINGS = r"^[A-Z][A-Z ,;:'-]*[A-Z]\.?$"
SECTION_WORDS = 3000      # an author without headings: documents of about this many words, cut at paragraphs
HELD_OUT = 0.3            # share of A's documents held out: enough for pools of 500+ probes
SMOKE = dict(docs=8, words=200)


def author_documents(path: Path, headings: str | None, smoke: bool) -> dict[str, str]:
    """An author's documents, loaded and cleaned by the project (Gutenberg boilerplate off), 300+ words each."""
    from lib.data import cleaning, corpus

    try:
        docs = corpus.load_corpus(path, split_pattern=headings, strip_gutenberg=True, verbose=False)
    except corpus.CorpusError as exc:
        raise SystemExit(f"known_truth: {exc}") from None
    found = {d.name: d.text for d in cleaning.clean_corpus(docs)[0] if len(d.text.split()) >= 300}
    if not headings:
        found = {f"{name}#{i}": part for name, text in found.items() for i, part in enumerate(sections(text))}
    if smoke:
        found = {n: " ".join(t.split()[: SMOKE["words"]]) for n, t in list(found.items())[: SMOKE["docs"]]}
    if len(found) < 4:
        raise SystemExit(f"known_truth: {path}: only {len(found)} documents of 300+ words; the split needs more")
    return found


def sections(text: str, words: int = SECTION_WORDS) -> list[str]:
    """Consecutive paragraphs joined until about `words` words (a book without headings cut into documents)."""
    out, current = [], []
    for paragraph in text.split("\n\n"):
        current.append(paragraph)
        if sum(len(p.split()) for p in current) >= words:
            out.append("\n\n".join(current))
            current = []
    if current and sum(len(p.split()) for p in current) >= 300:
        out.append("\n\n".join(current))
    return out


def shuffle_words(text: str, rng: random.Random) -> str:
    """Words shuffled within each sentence (paragraphs kept): the vocabulary stays, the syntax goes."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        sentences = []
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph.strip()):
            words = sentence.split()
            rng.shuffle(words)
            sentences.append(" ".join(words))
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def write_corpus(docs: dict[str, str], path: Path, category: str) -> Path:
    """One concatenated corpus file (the project's `=== DOCUMENT ===` format)."""
    from lib.files import storage

    return storage.write_text(path, "".join(f"=== DOCUMENT: [{category}] {name} ===\n{text.strip()}\n\n"
                                            for name, text in docs.items()))


def stage_settings(model: Path, smoke: bool, seed: int) -> dict:
    """The project's defaults (config.yaml), with what a 29M-parameter model without 4-bit needs changed."""
    settings = dict(model=str(model), load_in_4bit=False, use_unsloth=False, torch_compile=False,
                    attn_implementation="sdpa", max_seq_length=128 if smoke else 512,
                    val_fraction=HELD_OUT, seed=seed, logging_steps=5, save_steps=10_000)  # no mid-run checkpoints
    if smoke:
        settings.update(num_train_epochs=1, per_device_train_batch_size=16, gradient_accumulation_steps=1,
                        eval_steps=1000, save_steps=1000, template_pairs_per_document=2, authorship_words=20,
                        probe_max_new_tokens=48, instruction_max_new_tokens=48, bootstrap_samples=200)
    return settings


def train(cfg, stage: str = "pretraining", **changes) -> dict:
    """One stage through the project's own code; what its manifest says about it."""
    import torch

    from lib.files import storage
    from lib.train import stage as stage_mod

    cfg = cfg.replace(**changes)
    result = stage_mod.train_stage(cfg, stage, progress=False)
    manifest = storage.read_json(result.folder / "manifest.json")
    del result
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"run": cfg.run_name, "stage": stage, "steps": manifest["steps"], "tokens": manifest["resources"]["tokens"],
            "seconds": manifest["resources"]["training_seconds"], "final": manifest["final"],
            "train_rows": manifest["data"]["train rows"]}


def train_arms(model: Path, work: Path, author_a: dict, author_b: dict, smoke: bool, seed: int) -> tuple:
    """Prepare the three corpora and train every arm; return the study's settings, adapters and a summary."""
    from lib.data import prepare
    from lib.settings import config

    corpora = work / "corpora"
    files = {"A": write_corpus(author_a, corpora / "A.txt", "A"), "B": write_corpus(author_b, corpora / "B.txt", "B")}
    base = config.load_config(ROOT / "config.yaml", **stage_settings(model, smoke, seed)).replace(
        qa_file=None)  # the sample author's question file is not A's (a None override would keep it)
    cfgs = {name: base.replace(corpus=str(path), processed_dir=str(work / "processed" / name))
            for name, path in files.items()}
    held = prepare.run(cfgs["A"], mode="both", verbose=False)["documents"]["validation"]
    rng = random.Random(seed)
    files["shufA"] = write_corpus({n: shuffle_words(t, rng) for n, t in author_a.items()}, corpora / "shufA.txt", "A")
    cfgs["shufA"] = base.replace(corpus=str(files["shufA"]), processed_dir=str(work / "processed" / "shufA"),
                                 val_documents=held)
    for name in ("B", "shufA"):
        prepare.run(cfgs[name], mode="pretraining", verbose=False)
    runs = [train(cfgs["A"], run_name="A100")]
    default = runs[0]["steps"]
    runs.append(train(cfgs["A"], "instruction", run_name="A100"))
    runs += [train(cfgs["A"], run_name="A25", max_steps=max(1, round(default / 4))),
             train(cfgs["A"], run_name="A300", max_steps=3 * default),
             train(cfgs["B"], run_name="B", max_steps=default),
             train(cfgs["shufA"], run_name="shufA", max_steps=default)]
    outputs = Path(os.environ["P4_OUTPUTS"])
    adapters = {"A25": outputs / "A25/pretraining/adapter", "A100": outputs / "A100/pretraining/adapter",
                "A300": outputs / "A300/pretraining/adapter", "B": outputs / "B/pretraining/adapter",
                "shufA": outputs / "shufA/pretraining/adapter", "A100+s2": outputs / "A100/instruction/adapter"}
    return cfgs["A"], adapters, {"default_steps": default, "held_out_documents": held, "runs": runs}


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--author_a", default=str(SHARED / "schopenhauer"))
    parser.add_argument("--author_b", default=str(SHARED / "chesterton"))
    parser.add_argument("--headings_a", default=SCHOPENHAUER_HEADINGS,
                        help="regex of A's heading lines that start a document; 'none': sections of ~3000 words")
    parser.add_argument("--headings_b", default=CHESTERTON_HEADINGS)
    parser.add_argument("--population", default=str(SHARED / "population"), help="the folder, or a .tar.xz of it")
    parser.add_argument("--out", required=True, help="tables, JSON and figures (nothing trained goes here)")
    parser.add_argument("--work", default=None, help="where models are trained (default: a new temporary folder)")
    parser.add_argument("--pretrain_seconds", type=float, default=100)
    parser.add_argument("--held_out_authors", type=int, default=20)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="CPU check: a few thousand tokens, a few steps")
    parser.add_argument("--from_pool", default=None, help="a finished run's folder: recompute its table, verdicts "
                        "and calibration from pool.json with the statistics lib has now (nothing is trained)")
    args = parser.parse_args(argv)
    from lib.files import storage

    out = Path(args.out)
    if (out / "known_truth.json").exists():
        raise SystemExit(f"known_truth: {out}/known_truth.json exists; choose another --out (results are never "
                         "overwritten)")
    if args.from_pool:
        return from_pool(Path(args.from_pool), out, args)
    work = Path(tempfile.mkdtemp(prefix="known-truth-", dir=args.work))
    os.environ["P4_OUTPUTS"] = str(work / "outputs")
    started, timings = time.time(), {}

    def lap(name: str) -> None:
        timings[name] = round(time.time() - started - sum(timings.values()), 1)
        print(f"[{time.time() - started:6.0f} s] {name} done", flush=True)

    headings = [None if h.lower() == "none" else h for h in (args.headings_a, args.headings_b)]
    author_a = author_documents(Path(args.author_a), headings[0], args.smoke)
    author_b = author_documents(Path(args.author_b), headings[1], args.smoke)
    root = population_model.unpack(Path(args.population), work)
    model, pretrained, generic = population_model.build(
        root, work, smoke=args.smoke, seconds=3 if args.smoke else args.pretrain_seconds,
        held_out_authors=3 if args.smoke else args.held_out_authors, seed=args.seed,
        workers=2 if args.smoke else min(16, os.cpu_count() or 1), vocab=1024 if args.smoke else 8192)
    lap("population model")
    storage.write_json(out / "known_truth.json", truth.plain({"complete": False, "population_model": pretrained}))
    cfg, adapters, arms = train_arms(model, work, author_a, author_b, args.smoke, args.seed)
    lap("arms trained")
    study, pools = truth.open_study(cfg, adapters, work, generic, args.smoke)
    lap("study fitted")
    report = {"date": datetime.date.today().isoformat(), "device": device_name(),
              "command": "python -m bench.validation.known_truth "
                         + " ".join(argv if argv is not None else sys.argv[1:]),
              "authors": {"A": args.author_a, "B": args.author_b, "A documents": len(author_a),
                          "B documents": len(author_b)}, "population_model": pretrained, "arms": arms}
    measures = []
    for part in truth.PARTS:  # everything written after each part: a run cut short keeps what it measured
        measures += truth.measure_pools(study, pools, part)
        lap(f"measures: {part}")
        if part != "losses":
            report = write(out, report, study, measures, pools, args, timings, complete=part == truth.PARTS[-1])
            lap(f"tables and calibration after {part}")
    return report


def write(out: Path, report: dict, study, measures: list, pools: dict, args, timings: dict, complete: bool) -> dict:
    """The known-truth table, the pool, the calibration, the markdown and the figure, as measured so far; every
    generated text (generations.jsonl.gz), so that the texts can be scored again without a GPU."""
    from lib.files import storage

    report = {**report, **truth.known_truth(study, measures, pools), "complete": complete, "timings": timings,
              "statistics": statistics()}
    pool = truth.pool_json(measures, pools)
    storage.write_json(out / "pool.json", truth.plain(pool))
    with storage.atomic_path(out / "generations.jsonl.gz") as tmp, gzip.open(tmp, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps({k: r[k] for k in ("arm", "probe", "id", "prompt", "answer")}, ensure_ascii=False,
                                 default=str) + "\n" for r in study.arms.records)
    return publish(out, report, pool, args, study.cfg.bootstrap_samples, echo=complete)


def publish(out: Path, report: dict, pool: dict, args, resamples: int, echo: bool) -> dict:
    """Calibration from the pool, then known_truth.json, known_truth.md, calibration.json, dose_response.png."""
    from lib.files import storage

    storage.write_json(out / "known_truth.json", truth.plain(report))
    result = calibration.calibrate(pool, args.draws, resamples, args.seed)
    storage.write_json(out / "calibration.json", truth.plain(result))
    text = tables.markdown(report) + "\n\n## Calibration\n\n" + calibration.markdown(result, truth.LABELS)
    storage.write_text(out / "known_truth.md", text + "\n")
    tables.figure(report, out / "dose_response.png")
    if echo:
        print(text)
    return report


def from_pool(folder: Path, out: Path, args) -> dict:
    """A finished run's table, verdicts and calibration recomputed from its pool with today's statistics."""
    from lib.settings import config

    report = json.loads((folder / "known_truth.json").read_text())
    found = folder / "pool.json"
    pool = json.loads(found.read_text() if found.exists() else gzip.decompress((folder / "pool.json.gz").read_bytes()))
    for entry in pool["measures"]:
        entry.setdefault("bounds", truth.BOUNDS.get(entry["name"]))
        if entry["name"] == "first-person rate":  # pools of 2026-11-25: the study now reports whether, not how often
            entry.update(name="continuations in the first person", kind="proportion", bounds=None,
                         values={arm: [None if v is None else float(v > 0) for v in values]
                                 for arm, values in entry["values"].items()})
    measures = [calibration.to_measure(entry) for entry in pool["measures"]]
    resamples = config.load_config(ROOT / "config.yaml").bootstrap_samples
    sizes = {entry["name"]: entry["default_size"] for entry in pool["measures"]}
    report |= truth.tabulate(measures, sizes, resamples, args.seed) | {"statistics": statistics(),
                                                                       "recomputed_from": str(folder)}
    return publish(out, report, pool, args, resamples, echo=True)


def statistics() -> str:
    """Which statistics made the intervals (the first line of lib.study.stats' docstring)."""
    from lib.study import stats

    return (stats.__doc__ or "").strip().splitlines()[0]


if __name__ == "__main__":
    main()
