"""Known truth on the control design (bench/validation/known_truth.py --pairs): one (pair, seed) from writers to checks.

A pair is three writers of one register: the author A, the control C (another person in her register, trained
by the project's own control path, matched to her steps) and the placebo P (a third register-mate, nearest A by
the same stylometric rule, tuned in A's place and compared against C exactly as A is). The project's headline
compares A with C; the placebo asks how often a stranger in her register is called "her" that way.

Arms (all from the population model, all through `lib.data.prepare` and `lib.train.stage.train_stage`):
- runs A25, A100, A300: her stage 1 at 25/100/300% of the default steps, then the control's stage 1 in the same
  run (`control=True`: matched to her steps by `lib.train.matching`); in A25 and A100 also both stage 2s;
- run P100: the placebo's stage 1 for as many steps as A100, and his stage 2 for as many as A100's stage 2.
Dose 0 is the base model against itself: every contrast is 0 there by construction.

Measures: the study's own (`lib.study`): each arm's loss on her held-out documents, on the control's and on
general text (claim 1, by document), and the two-author verifier's share of continuations and answers called
hers rather than the control's (claim 3) on the stage-2 arms. Checks (`checks`): on the whole pool, each
primary contrast per dose and the placebo's; then `draws` draws of the study's default sizes from the pool
(with replacement), where the pool's own value is the truth, counting the placebo called hers, the 25% dose
called hers and the intervals that cover the pool's value.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench.validation import calibration

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "corpora"
HER, HIS = "loss on held-out author text", "loss on the control author's held-out text"
GENERAL = "loss on general text"
ANSWERS, CONTINUATIONS = "answers called hers, not the control's", "continuations called hers, not the control's"
STAGE2_ARMS = ["A25+s2", "C25+s2", "A100+s2", "C100+s2", "P100+s2"]
POOL = {"openings": 150, "questions": 200, "general": 60}     # per author for openings: the pools calibration draws from
SMOKE_DOCS, SMOKE_WORDS = 8, 200


# --- pairs ------------------------------------------------------------------------------------------------

@dataclass
class Pair:
    """Three writers of one register, by role (A author, C control, P placebo), and their documents."""
    name: str
    writers: dict[str, str]                       # role -> writer's name
    documents: dict[str, dict[str, str]] = field(default_factory=dict)   # role -> document -> text
    delta: float | None = None                    # Burrows' Delta of the A/C pair, where the rule picked it


def population_root(shared: Path) -> Path:
    return shared / "population"


def pair_writers(name: str, shared: Path = SHARED) -> Pair:
    """Who plays each role, picked by rule (`lib.study.oracle_sources`): `default`: Schopenhauer (A) and
    Chesterton (C), the placebo the essay-like population writer nearest Schopenhauer by Delta; `population`:
    the nearest pair of essay-like population writers by Delta (the one with less text is A) and the writer
    nearest A after C as the placebo."""
    from lib.study import oracle_sources as sources

    root = population_root(shared)
    if name == "default":
        author = sources.writer_documents(shared / "schopenhauer", sources.SCHOPENHAUER_HEADINGS)
        texts = {"Arthur Schopenhauer": " ".join(" ".join(author.values()).split()[:sources.DELTA_WORDS]),
                 **sources.delta_texts(root)}
        placebo = sources.nearest_other("Arthur Schopenhauer", set(), texts)
        return Pair(name, {"A": "Arthur Schopenhauer", "C": "G. K. Chesterton", "P": placebo})
    if name == "population":
        found = sources.population_pair(root)
        return Pair(name, {"A": found["author"], "C": found["control"], "P": found["other_voice"]}, delta=found["delta"])
    raise SystemExit(f"known_truth: no pair '{name}' (pairs: default, population)")


def load_documents(pair: Pair, smoke: bool, shared: Path = SHARED) -> Pair:
    """Each role's documents as the oracle cuts them (at most 30, 300+ words); a smoke run keeps a few short ones."""
    from lib.study import oracle_sources as sources

    books = sources.essay_like(population_root(shared))
    for role, writer in pair.writers.items():
        if writer == "Arthur Schopenhauer":
            docs = sources.writer_documents(shared / "schopenhauer", sources.SCHOPENHAUER_HEADINGS)
        elif writer == "G. K. Chesterton":
            docs = sources.writer_documents(shared / "chesterton", sources.CHESTERTON_HEADINGS)
        else:
            docs = sources.writer_documents(books[writer])
        if smoke:
            docs = {n: " ".join(t.split()[:SMOKE_WORDS]) for n, t in list(docs.items())[:SMOKE_DOCS]}
        pair.documents[role] = docs
    return pair


def population_writers(pairs: list[Pair], shared: Path = SHARED) -> set[str]:
    """The writers with a role who are population authors: all must be held out of pretraining."""
    from lib.study import oracle_sources as sources

    known = {b["author"] for b in sources.manifest(population_root(shared))}
    return {w for p in pairs for w in p.writers.values() if w in known}


# --- arms ---------------------------------------------------------------------------------------------------

def write_corpus(docs: dict[str, str], path: Path, category: str) -> Path:
    """One concatenated corpus file (the project's `=== DOCUMENT ===` format)."""
    from lib.files import storage

    return storage.write_text(path, "".join(f"=== DOCUMENT: [{category}] {name} ===\n{text.strip()}\n\n"
                                            for name, text in docs.items()))


def train(cfg, stage: str, arm: str, control: bool = False, **changes) -> dict:
    """One stage through the project's own code (hers, or with `control` the control's, matched to hers)."""
    import torch

    from lib.files import storage
    from lib.train import stage as stage_mod

    cfg = cfg.replace(**changes)
    result = stage_mod.train_stage(cfg, stage, progress=False, control=control)
    manifest = storage.read_json(result.folder / "manifest.json")
    adapter = result.folder / "adapter"
    del result
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"arm": arm, "run": cfg.run_name, "stage": stage, "control": control, "steps": manifest["steps"],
            "tokens": manifest["resources"]["tokens"], "seconds": manifest["resources"]["training_seconds"],
            "final": manifest["final"], "matched_to": manifest.get("matched_to"), "adapter": str(adapter)}


def train_arms(base_cfg, work: Path, pair: Pair) -> tuple[object, dict[str, Path], dict]:
    """Prepare A (with C as her control) and P, train every arm; (A's settings, arm -> adapter, summary)."""
    from lib.data import prepare

    corpora = work / "corpora"
    files = {role: write_corpus(docs, corpora / f"{role}.txt", role) for role, docs in pair.documents.items()}
    hers = base_cfg.replace(corpus=str(files["A"]), control_corpus=str(files["C"]),
                            processed_dir=str(work / "processed" / "A"))
    prepare.run(hers, mode="both", verbose=False)
    prepare.run_control(hers, verbose=False)
    placebo = base_cfg.replace(corpus=str(files["P"]), control_corpus=None, processed_dir=str(work / "processed" / "P"))
    prepare.run(placebo, mode="both", verbose=False)
    runs = [train(hers, "pretraining", "A100", run_name="A100")]
    default = runs[0]["steps"]
    runs += [train(hers, "pretraining", "C100", True, run_name="A100"),
             train(hers, "instruction", "A100+s2", run_name="A100"),
             train(hers, "instruction", "C100+s2", True, run_name="A100")]
    stage2 = runs[2]["steps"]
    quarter = hers.replace(run_name="A25", max_steps=max(1, round(default / 4)))
    runs += [train(quarter, "pretraining", "A25"), train(quarter, "pretraining", "C25", True),
             train(quarter, "instruction", "A25+s2", max_steps=-1), train(quarter, "instruction", "C25+s2", True)]
    triple = hers.replace(run_name="A300", max_steps=3 * default)
    runs += [train(triple, "pretraining", "A300"), train(triple, "pretraining", "C300", True)]
    runs += [train(placebo, "pretraining", "P100", run_name="P100", max_steps=default),
             train(placebo, "instruction", "P100+s2", run_name="P100", max_steps=stage2)]
    adapters = {r["arm"]: Path(r["adapter"]) for r in runs}
    return hers, adapters, {"default_steps": default, "stage2_steps": stage2, "runs": runs}


# --- measures -----------------------------------------------------------------------------------------------

def open_study(cfg, adapters: dict[str, Path], work: Path, generic: dict[str, list[str]], smoke: bool):
    """The study over every arm, fitted as for a run with a control (verifier included), and the pools."""
    import torch

    from bench.validation import known_truth_study as truth
    from lib.data import processed
    from lib.study import drafting, probes
    from lib.study import study as study_mod

    arms = truth.DoseArms(cfg, adapters, work / "outputs", 1024 if torch.cuda.is_available() else 64)
    found = probes.read_probes(drafting.draft(cfg, work / "probes"))
    found["author_names"] = []
    train_rows, val_rows, manifest = processed.load_split(cfg, "pretraining")
    control_rows = processed.load_split(cfg, "pretraining", processed.CONTROL)[:2]
    general = truth.general_units(generic, 100 if smoke else 700, 8 if smoke else POOL["general"])
    study = study_mod.build(cfg, arms, work / "study", found, train_rows, val_rows, generic, general,
                            arms.tokenizer.eos_token, control_rows)
    more = drafting.draft_questions(val_rows, train_rows, cfg.seed, target=8 if smoke else POOL["questions"])
    limit = 6 if smoke else POOL["openings"]
    pools = {"questions": list(dict.fromkeys(found["questions"] + more)),
             "completions": truth.completion_pool(study.author_held_out, smoke)[:limit],
             "control_completions": truth.completion_pool(study.control_held_out, smoke)[:limit],
             "general": general}
    n_docs = len(manifest["documents"]["train"]) + len(manifest["documents"]["validation"])
    documents = max(cfg.min_held_out_documents, round(type(cfg)().val_fraction * n_docs))  # what a real run holds out
    pools["defaults"] = {HER: documents, HIS: documents, GENERAL: 40, CONTINUATIONS: 2 * documents,
                         ANSWERS: len(found["questions"])}
    if smoke:
        pools["defaults"] = {k: max(2, min(v, 4)) for k, v in pools["defaults"].items()}
    return study, pools


def measure_losses(study, pools: dict) -> list:
    """Claim 1's measures: every arm's per-window loss on her held-out documents, the control's and general text."""
    from lib.study import inextricability

    return [inextricability.loss_measure(study, HER, study.author_held_out, "lower = predicts her unseen text",
                                         "whether it shares her judgements"),
            inextricability.loss_measure(study, HIS, study.control_held_out, "lower = predicts his unseen text",
                                         "whether it shares his judgements"),
            inextricability.loss_measure(study, GENERAL, pools["general"], "higher = forgetting", "skills, facts")]


def measure_voice(study, pools: dict) -> list:
    """Claim 3's measures on the stage-2 arms (the declared primaries are stage 1 + 2): continuations of both
    authors' held-out openings and answers to the questions, called hers or the control's by the verifier."""
    from lib.study import voice

    if not voice.usable(study, fit=False):
        return []
    study.probes.update(questions=pools["questions"], completions=pools["completions"],
                        control_completions=pools["control_completions"])
    every = study.arms.names
    study.arms.names = [a for a in STAGE2_ARMS if a in every]
    try:
        measures = [voice.continuations_measure(study)[0], voice.answers_measure(study)]
    finally:
        study.arms.names = every
    return measures


def clean(measures: list) -> list:
    for measure in measures:
        for arm, values in measure.values.items():
            measure.values[arm] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                                   for v in values]
    return measures


# --- readings and checks ------------------------------------------------------------------------------------

@dataclass
class Reading:
    """A contrast read off the pool: her arm against the control's at each dose, and the placebo against C."""
    name: str
    primary: bool
    sign: int                                 # the author's direction: -1 (loss falls), +1 (share rises)
    measures: tuple[str, ...]                 # one measure (a paired contrast) or her text and his (crossed)
    doses: list[tuple[int, str, str]]         # (dose %, her arm, the control's matched arm)
    placebo: tuple[str, str]


STAGE1 = [(25, "A25", "C25"), (100, "A100", "C100"), (300, "A300", "C300")]
STAGE12 = [(25, "A25+s2", "C25+s2"), (100, "A100+s2", "C100+s2")]
READINGS = [
    Reading("loss on held-out author text: stage 1 - control stage 1", True, -1, (HER,), STAGE1, ("P100", "C100")),
    Reading("loss on held-out author text: stage 1 + 2 - control stage 1 + 2", True, -1, (HER,), STAGE12,
            ("P100+s2", "C100+s2")),
    Reading("answers called hers, not the control's: stage 1 + 2 - control stage 1 + 2", True, +1, (ANSWERS,),
            STAGE12, ("P100+s2", "C100+s2")),
    Reading("continuations called hers, not the control's: stage 1 + 2 - control stage 1 + 2", True, +1,
            (CONTINUATIONS,), STAGE12, ("P100+s2", "C100+s2")),
    Reading("interaction (secondary): (stage 1 - control stage 1) on her text - on his", False, -1, (HER, HIS),
            STAGE1, ("P100", "C100")),
]


def reading_rows(reading: Reading, measures: dict, resamples: int, seed: int) -> list[dict | None]:
    """The reading's rows for every dose, then the placebo, through the study's own statistics (None where an
    arm was not scored)."""
    from lib.study import cross_likelihood as cl
    from lib.study.measures import contrast_rows

    pairs = [(a, c) for _, a, c in reading.doses] + [reading.placebo]
    if len(reading.measures) == 1:
        measure = measures[reading.measures[0]]
        found = [p for p in pairs if p[0] in measure.values and p[1] in measure.values]
        rows = dict(zip(found, contrast_rows(measure, resamples, seed, pairs=found)))
    else:
        her, his = (measures[m] for m in reading.measures)
        rows = {}
        for pair in pairs:
            got = cl.crossed_rows(her, his, "1", resamples, seed, pairs=[pair])
            if got:
                rows[pair] = got[0]
    return [rows.get(p) for p in pairs]


def called_hers(row: dict | None, sign: int) -> bool:
    """Declared hers: the 95% interval excludes 0 on her side (two-sided p < .05 in the author's direction)."""
    return bool(row) and calibration.significant(row, sign)


def summary(row: dict | None) -> dict | None:
    return None if not row else {k: row.get(k) for k in ("mean", "ci_low", "ci_high", "p_value", "n")}


def check(reading: Reading, measures: dict, defaults: dict, draws: int, resamples: int, seed: int) -> dict:
    """One reading on one (pair, seed): the pool's own contrasts (dose-response), then `draws` draws of the
    default sizes counting the placebo called hers, the 25% dose called hers and intervals covering the pool."""
    missing = [m for m in reading.measures if m not in measures]
    if missing:
        return {"reading": reading.name, "missing": f"not measured: {', '.join(missing)}"}
    truth = reading_rows(reading, measures, resamples, seed)
    doses = [{"dose": d, "arm": a, "against": c, **(summary(r) or {}), "hers": called_hers(r, reading.sign)}
             for (d, a, c), r in zip(reading.doses, truth)]
    means = [0.0] + [d.get("mean", math.nan) for d in doses]   # dose 0: the base model against itself
    monotone = all(reading.sign * (b - a) >= 0 for a, b in zip(means, means[1:]))
    at_100 = next((d["hers"] for d in doses if d["dose"] == 100), False)
    rng = random.Random(seed)
    units = {m: calibration.units_of(measures[m]) for m in reading.measures}
    counts = {"placebo_hers": 0, "dose25_hers": 0, "covered": 0, "intervals": 0}
    for d in range(draws):
        drawn = {m: calibration.take(measures[m], [rng.choice(units[m]) for _ in range(defaults[m])])
                 for m in reading.measures}
        rows = reading_rows(reading, drawn, resamples, seed + d + 1)
        counts["placebo_hers"] += called_hers(rows[-1], reading.sign)
        counts["dose25_hers"] += called_hers(rows[0], reading.sign)
        for row, pool_row in zip(rows, truth):
            hit = calibration.covers(row or {}, pool_row["mean"]) if pool_row else None
            if hit is not None:
                counts["covered"] += hit
                counts["intervals"] += 1
    return {"reading": reading.name, "primary": reading.primary, "sign": reading.sign, "doses": doses,
            "placebo": {"arm": reading.placebo[0], "against": reading.placebo[1], **(summary(truth[-1]) or {}),
                        "hers": called_hers(truth[-1], reading.sign)},
            "monotone": monotone, "detected_at_100": at_100, "dose_response": monotone and at_100,
            "draws": draws, "sizes": {m: defaults[m] for m in reading.measures}, **counts}


def checks(measures: list, defaults: dict, draws: int, resamples: int, seed: int) -> list[dict]:
    found = {m.name: m for m in measures}
    return [check(r, found, defaults, draws, resamples, seed) for r in READINGS]


def index_rows(measures: list, resamples: int, seed: int) -> list[dict]:
    """The inextricability index of every stage-1 arm on the whole pool (secondary: reported, not checked)."""
    from lib.study import cross_likelihood as cl

    found = {m.name: m for m in measures}
    if HER not in found or HIS not in found:
        return []
    arms = [a for _, a, _ in STAGE1] + [c for *_, c in STAGE1] + ["P100"]
    return [{"arm": r["arm"], **summary(r), "method": r.get("method")}
            for r in cl.index_rows(found[HER], found[HIS], "1", resamples, seed, arms=arms)]
