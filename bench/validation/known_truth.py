"""Does the study detect a real effect, and only a real one? The study's declared primaries run on a small
language model whose truth is known, because the project made every effect itself (the control design).

1. A population model (bench/validation/population_model.py): the project's tokenizer recipe and a Llama-shaped model
   (29M parameters) pretrained on ../shared/corpora/population; every writer with a role in either pair is
   held out of it, with 20 other authors (the generic side, never a writer with a role).
2. Per pair (`--pairs`): the author A, the control C (a register-mate, trained by the project's own control
   path: `prepare.run_control`, `train_stage(control=True)`, matched to her steps) and the placebo P (a third
   register-mate, nearest A by the same stylometric rule, tuned in A's place and compared against C as A is).
   `default`: Schopenhauer (A), Chesterton (C); `population`: the nearest essay-like pair of the population by
   Burrows' Delta (Huxley and Elgin on the corpora of 2026-12), the placebo the writer nearest A after C.
3. Per (pair, seed) (bench/validation/known_truth_control.py): A at 25/100/300% of the default stage-1 steps with C matched
   at each dose, stage 2 on A25/A100 and their controls, P at 100% with its stage 2; the study's own measures
   (loss on her and the control's held-out documents, the two-author verifier on continuations and answers);
   the checks on the whole pool and on draws of the study's default sizes. One folder each: report.json,
   checks.json, pool.json.gz (recompute without a GPU), log.txt.
4. The combined table (bench/validation/known_truth_combine.py; combined.md / .json): every declared primary with its
   dose-response, placebo false-positive rate, power at the 25% dose, coverage and verdict; a primary that
   fails leaves the headline, one this bench cannot measure (claims 2 and 4: a chat model) says why.

    python -m bench.validation.known_truth --pairs default,population --seeds 0,1 --out DIR   # a GPU
    python -m bench.validation.known_truth --smoke --pairs default,population --seeds 0 --out DIR  # CPU, minutes
    python -m bench.validation.known_truth --combine DIR/default-seed0 DIR/population-seed1 ... --out DIR2
    python -m bench.validation.known_truth --from_pool RUN_DIR --out DIR  # an old-design run's tables, today's statistics

On the lent H200, two calls of at most 10 minutes (each (pair, seed) of a call runs as its own process, at
once: the 29M model leaves the GPU mostly idle). Before them, here: `bash bench/speed/carry.sh` (wheels and the
Schopenhauer essays under .carry/), then `cp -r ../shared/corpora/chesterton .carry/corpora/` and
`tar -C ../shared/corpora -cJf .carry/corpora/population.tar.xz population`. Then:

    call 1: python3 bench/speed/install_missing.py .carry/wheels /tmp/site && PYTHONPATH=/tmp/site timeout 590 \
        python3 -m bench.validation.known_truth --pairs default --seeds 0,1 --shared .carry/corpora \
        --population .carry/corpora/population.tar.xz --budget 570 --out $OUT/truth --work /tmp
    call 2: the same with --pairs population
    then here: python -m bench.validation.known_truth --combine DIR1/truth/default-seed* DIR2/truth/population-seed* --out DIR

with carry [".carry"]. Predicted (from bench/results/known_truth_h100, 2026-11-25 on an H100): population
model ~100 s (60 s of pretraining, cleaning, tokenizing); per (pair, seed) 14 trainings ~230 s (90 default
steps: 0.1 s a step and ~8 s of loading per stage), study and losses ~60 s, continuations and answers of five
stage-2 arms ~40 s, checks ~30 s: ~360 s, two at once ~450 s: ~9 minutes a call, 18 device minutes in all.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from bench.validation import calibration, population_model  # noqa: E402
from bench.validation import known_truth_combine as combiner  # noqa: E402
from bench.validation import known_truth_control as control  # noqa: E402
from bench.validation import known_truth_study as truth  # noqa: E402
from bench.validation import known_truth_tables as tables  # noqa: E402

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
    """Consecutive paragraphs joined until about `words` words (a book without headings cut into documents), as
    the oracle harness cuts its writers."""
    from lib.study import oracle_sources

    return oracle_sources.sections(text, words)


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


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="default", help="comma-separated: default, population")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the arms (split, LoRA, data order)")
    parser.add_argument("--combine", nargs="+", default=None, metavar="DIR",
                        help="finished (pair, seed) folders: write the combined per-primary table to --out")
    parser.add_argument("--population", default=str(SHARED / "population"), help="the folder, or a .tar.xz of it")
    parser.add_argument("--shared", default=str(SHARED), help="the corpora folder (schopenhauer, chesterton, ...)")
    parser.add_argument("--out", required=True, help="tables, JSON and pools (nothing trained goes here)")
    parser.add_argument("--work", default=None, help="where models are trained (default: a new temporary folder)")
    parser.add_argument("--pretrain_seconds", type=float, default=60)
    parser.add_argument("--held_out_authors", type=int, default=20)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=0, help="(pair, seed) runs at once (0: all on a GPU, 1 on CPU)")
    parser.add_argument("--budget", type=float, default=0, help="seconds for everything; runs still going are "
                        "stopped in time to combine what finished (0: no limit)")
    parser.add_argument("--smoke", action="store_true", help="CPU check: a few thousand tokens, a few steps")
    parser.add_argument("--from_pool", default=None, help="a finished old-design run's folder: recompute its table "
                        "and calibration from pool.json with the statistics lib has now (nothing is trained)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)      # a child: one pair ...
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)  # ... one seed
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)    # ... on this population model
    parser.add_argument("--generic", default=None, help=argparse.SUPPRESS)  # ... with this generic side
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    out = Path(args.out)
    if args.combine:
        return combiner.write([Path(d) for d in args.combine], out)
    if args.one:
        return run_one(args)
    for name in ("known_truth.json", "combined.json"):
        if (out / name).exists():
            raise SystemExit(f"known_truth: {out}/{name} exists; choose another --out (results are never "
                             "overwritten)")
    if args.from_pool:
        return from_pool(Path(args.from_pool), out, args)
    return run_all(args, argv)


def run_all(args, argv: list[str] | None) -> dict:
    """The population model once (every writer with a role in either pair held out of it), then each
    (pair, seed) in a process of its own (at once on a GPU: a 29M model leaves it mostly idle), then the
    combined table of the folders that finished."""
    import torch

    from lib.files import storage

    started = time.time()
    names, seeds = args.pairs.split(","), [int(s) for s in args.seeds.split(",")]
    shared = Path(args.shared)
    roles = {n: control.pair_writers(n, shared) for n in ("default", "population")}
    hold = control.population_writers(list(roles.values()), shared)
    work = Path(tempfile.mkdtemp(prefix="known-truth-", dir=args.work))
    root = population_model.unpack(Path(args.population), work)
    model, pretrained, generic = population_model.build(
        root, work, smoke=args.smoke, seconds=3 if args.smoke else args.pretrain_seconds,
        held_out_authors=3 if args.smoke else args.held_out_authors, seed=0, hold=frozenset(hold),
        workers=2 if args.smoke else min(16, os.cpu_count() or 1), vocab=1024 if args.smoke else 8192)
    generic = {k: v for k, v in generic.items() if k not in hold}   # no writer with a role on the generic side
    storage.write_json(work / "generic.json", generic)
    storage.write_json(out_path(args) / "population_model.json", truth.plain(
        {"population_model": pretrained, "held_out_with_a_role": sorted(hold), "seconds": round(time.time() - started),
         "command": "python -m bench.validation.known_truth " + " ".join(argv if argv is not None else sys.argv[1:])}))
    print(f"[{time.time() - started:6.0f} s] population model done (held out with a role: {sorted(hold)})", flush=True)
    jobs = args.jobs or (len(names) * len(seeds) if torch.cuda.is_available() else 1)
    folders = children(args, names, seeds, model, work, jobs, started)
    return combiner.write(folders, out_path(args))


def out_path(args) -> Path:
    return Path(args.out)


def children(args, names: list[str], seeds: list[int], model: Path, work: Path, jobs: int, started: float) -> list:
    """Each (pair, seed) in its own process, `jobs` at a time, each stopped where the budget ends."""
    import subprocess

    pending = [(n, s) for n in names for s in seeds]
    running, folders = [], []
    while pending or running:
        while pending and len(running) < jobs:
            name, seed = pending.pop(0)
            folder = out_path(args) / f"{name}-seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-m", "bench.validation.known_truth", "--one", name, "--seed", str(seed),
                       "--model", str(model), "--generic", str(work / "generic.json"), "--out", str(folder),
                       "--work", str(work), "--shared", args.shared, "--draws", str(args.draws)]
            log = open(folder / "log.txt", "w")
            running.append((subprocess.Popen(command + (["--smoke"] if args.smoke else []), stdout=log,
                                             stderr=subprocess.STDOUT, cwd=ROOT), log, folder))
            folders.append(folder)
        time.sleep(1)
        for entry in list(running):
            proc, log, folder = entry
            late = args.budget and time.time() - started > args.budget - 20
            if late and proc.poll() is None:
                proc.kill()
                print(f"known_truth: {folder.name} stopped at the budget ({args.budget:.0f} s)", flush=True)
            if proc.poll() is not None:
                log.close()
                running.remove(entry)
                print(f"[{time.time() - started:6.0f} s] {folder.name} ended (exit {proc.returncode})", flush=True)
    return folders


def run_one(args) -> dict:
    """One (pair, seed): writers, arms, study, measures, pool and checks, written into --out as they come."""
    from lib.files import storage
    from lib.settings import config

    out, started, timings = Path(args.out), time.time(), {}

    def lap(name: str) -> None:
        timings[name] = round(time.time() - started - sum(timings.values()), 1)
        print(f"[{time.time() - started:6.0f} s] {name} done", flush=True)

    work = Path(tempfile.mkdtemp(prefix=f"{args.one}-seed{args.seed}-", dir=args.work))
    os.environ["P4_OUTPUTS"] = str(work / "outputs")
    pair = control.load_documents(control.pair_writers(args.one, Path(args.shared)), args.smoke, Path(args.shared))
    generic = json.loads(Path(args.generic).read_text())
    base = config.load_config(ROOT / "config.yaml", **stage_settings(Path(args.model), args.smoke, args.seed)).replace(
        qa_file=None, control_qa_file=None)  # the sample's question files are not these writers' (None overrides)
    report = {"pair": args.one, "seed": args.seed, "writers": pair.writers, "delta": pair.delta,
              "documents": {r: len(d) for r, d in pair.documents.items()}, "device": device_name(),
              "date": datetime.date.today().isoformat()}
    cfg, adapters, arms = control.train_arms(base, work, pair)
    report["arms"] = arms
    lap("arms trained")
    study, pools = control.open_study(cfg, adapters, work, generic, args.smoke)
    report |= {"verifier": study.verifier.quality.rows() if study.verifier and study.verifier.quality else None,
               "pools": {k: len(v) for k, v in pools.items() if k != "defaults"}, "defaults": pools["defaults"]}
    lap("study fitted")
    measures = control.clean(control.measure_losses(study, pools))
    lap("losses")
    storage.write_json(out / "report.json", truth.plain(report | {"timings": timings, "complete": False}))
    measures += control.clean(control.measure_voice(study, pools))
    lap("verifier measures")
    write_pool(out, measures, pools)
    resamples = study.cfg.bootstrap_samples
    found = control.checks(measures, pools["defaults"], args.draws, resamples, args.seed)
    report["index"] = control.index_rows(measures, resamples, args.seed)
    lap("checks")
    storage.write_json(out / "report.json", truth.plain(report | {"timings": timings, "complete": True}))
    storage.write_json(out / "checks.json", truth.plain({"pair": args.one, "seed": args.seed, "writers": pair.writers,
                                                         "device": report["device"], "checks": found}))
    return report


def write_pool(out: Path, measures: list, pools: dict) -> None:
    """Every unit's value per arm (gzip): the checks can be recomputed from it without a GPU."""
    entries = [{"claim": m.claim, "name": m.name, "unit": m.unit, "kind": m.kind, "direction": m.direction,
                "cannot_show": m.cannot_show, "default_size": pools["defaults"].get(m.name), "values": m.values,
                "clusters": m.clusters, "bounds": m.bounds} for m in measures]
    data = json.dumps(truth.plain({"measures": entries}), ensure_ascii=False).encode()
    (out / "pool.json.gz").write_bytes(gzip.compress(data))


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
