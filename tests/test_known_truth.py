"""The known-truth experiment (bench/validation/known_truth.py): its pieces on inputs whose answer is known, and the
whole script end to end on CPU in its --smoke setting (a few thousand tokens, a few steps), so that it cannot rot."""

import gzip
import json
import random
import subprocess
import sys
from collections import Counter

import pytest

from bench.validation import calibration, known_truth
from bench.validation import known_truth_study as truth
from tests.conftest import ROOT, needs_shared



def test_shuffling_keeps_every_sentence_s_words_and_loses_their_order():
    text = ("The will is the thing in itself, and the intellect is its servant in every living being. It sees.\n\n"
            "Reading is thinking with another man's head instead of with one's own, as everybody knows.")
    mixed = known_truth.shuffle_words(text, random.Random(0))
    assert mixed.count("\n\n") == 1, "paragraphs stay"
    for before, after in zip(text.split("\n\n"), mixed.split("\n\n")):
        assert Counter(before.split()) == Counter(after.split()), "the same words, sentence by sentence"
    assert mixed != text and mixed.split("\n\n")[1].split()[:4] != text.split("\n\n")[1].split()[:4]


def test_a_book_without_headings_is_cut_into_documents_at_paragraphs():
    paragraph = " ".join(["word"] * 400)
    parts = known_truth.sections("\n\n".join([paragraph] * 20), words=1000)
    assert [len(p.split()) for p in parts] == [1200] * 6 + [800]
    assert all(p.count("\n\n") == 2 for p in parts[:-1])


def test_the_pools_begin_with_the_study_s_default_probe_sets():
    from lib.study import probes

    held = {f"doc{i}": [" ".join(f"w{i}x{j}" for j in range(900))] for i in range(3)}
    pool = truth.completion_pool(held, smoke=False)
    assert pool[:7] == probes.completion_probes(held, 7), "the default set first"
    assert len(pool) == 2 * len(probes.completion_probes(held, 10 ** 6)) - 3, "then openings half a span later"
    assert len({p["id"] for p in pool}) == len(pool) and {p["document"] for p in pool} == set(held)
    generic = {"X": ["a " * 3000], "Y": ["b " * 2500, "c " * 1800]}
    units = truth.general_units(generic, 700, 5)
    assert list(units) == ["X/0@0", "Y/0@0", "Y/1@0", "X/0@1", "Y/0@1"], "taken from the books in turn"
    assert all(len(t[0].split()) == 700 for t in units.values())


def rows(means: dict, n: int = 40) -> dict:
    return {arm: {"arm": arm, "mean": m, "n": n} for arm, m in means.items()}


def contrast(low: float, high: float) -> dict:
    return {"mean": (low + high) / 2, "ci_low": low, "ci_high": high, "n": 40}


def test_the_verdict_asks_for_dose_response_and_no_placebo_toward_the_author():
    means = {"base": 0.1, "A25": 0.2, "A100": 0.6, "A300": 0.7, "B": 0.1, "shufA": 0.12}
    found = {("A25", "base"): contrast(-0.05, 0.2), ("A100", "base"): contrast(0.3, 0.7),
             ("A300", "base"): contrast(0.4, 0.8), ("B", "base"): contrast(-0.1, 0.1),
             ("shufA", "base"): contrast(-0.3, -0.05)}
    good = truth.verdict("continuations called the author's", rows(means), found)
    assert good["dose_response"] and good["passes"] and not good["flat"]
    assert good["detected"] == {"A25": False, "A100": True, "A300": True}
    assert good["placebos"] == {"B": "flat", "shufA": "away from A"}
    fooled = truth.verdict("continuations called the author's", rows(means),
                           {**found, ("B", "base"): contrast(0.1, 0.4)})
    assert fooled["placebos"]["B"] == "toward A" and not fooled["passes"]
    backwards = truth.verdict("continuations called the author's", rows({**means, "A300": 0.05}), found)
    assert not backwards["monotone"] and not backwards["passes"]
    falls = truth.verdict("loss on held-out author text", rows({"base": 4.0, "A25": 3.9, "A100": 3.8, "A300": 3.7}),
                          {("A100", "base"): contrast(-0.3, -0.1), ("A300", "base"): contrast(-0.4, -0.2)})
    assert falls["expected"] == "falls" and falls["passes"]
    thin = {arm: dict(row, n=3 if arm == "base" else 40) for arm, row in rows(means).items()}
    assert not truth.verdict("answers called the author's", thin, found)["passes"], "a base of 3 answers says nothing"
    forgetting = truth.verdict("loss on general text", rows({"base": 4.0, "A25": 4.0, "A100": 4.1, "A300": 4.2}),
                               {("A100", "base"): contrast(0.05, 0.15), ("A300", "base"): contrast(0.1, 0.3),
                                ("B", "base"): contrast(0.05, 0.2)})
    assert forgetting["passes"], "any tuning forgets: a placebo that forgets too is no false author effect"


def synthetic_pool(shift_b: float, seed: int = 0) -> dict:
    """Per-probe values of known distribution: the doses shift the mean by 0.25, 1 and 3 SD, B by `shift_b`."""
    rng = random.Random(seed)
    base = [rng.gauss(0, 1) for _ in range(600)]
    arm = {"base": 0, "A25": 0.25, "A100": 1.0, "A300": 3.0, "B": shift_b, "shufA": 0.0, "A100+s2": 1.0}
    values = {a: [b + shift + rng.gauss(0, 0.3) for b in base] for a, shift in arm.items()}
    return {"arms": truth.ARMS, "base": "base", "smallest_dose": "A25", "placebos": truth.PLACEBOS,
            "extra_contrasts": [], "measures": [{"name": "m", "unit": "probe", "kind": "mean", "sign": 1,
                                                 "default_size": 40, "values": values, "clusters": None}]}


def test_calibration_measures_coverage_false_positives_and_power_where_the_truth_is_known():
    null = calibration.calibrate(synthetic_pool(0.0), draws=100, resamples=500)["measures"][0]
    for kind, found in null["coverage"].items():
        assert 0.85 <= found["coverage"] <= 1.0, (kind, found)
    assert null["placebo"]["B"]["rejection_rate"] <= 0.15 and null["placebo"]["shufA"]["rejection_rate"] <= 0.15
    assert null["power_smallest_dose"] >= 0.5, "a quarter of an SD on 40 paired probes with little noise"
    shifted = calibration.calibrate(synthetic_pool(0.6), draws=50, resamples=500)["measures"][0]
    assert shifted["placebo"]["B"]["rejection_rate"] >= 0.9 and shifted["placebo"]["B"]["toward_author_rate"] >= 0.9
    assert shifted["placebo"]["B"]["pool_contrast"] == pytest.approx(0.6, abs=0.1), "the pool's own contrast"


@pytest.mark.slow
@needs_shared
def test_the_known_truth_experiment_runs_end_to_end_on_cpu(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "bench.validation.known_truth", "--smoke", "--out", str(out),
                           "--work", str(tmp_path), "--draws", "10"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "known_truth.json").read_text())
    assert report["complete"] and (out / "dose_response.png").stat().st_size > 0
    pretrained = report["population_model"]["pretraining"]
    assert pretrained["train_loss_last_50"] < pretrained["first_loss"], "pretraining lowered the loss"
    steps = {(r["run"], r["stage"]): r["steps"] for r in report["arms"]["runs"]}
    default = report["arms"]["default_steps"]
    assert steps[("A25", "pretraining")] == max(1, round(default / 4)) and steps[("A300", "pretraining")] == 3 * default
    assert steps[("B", "pretraining")] == steps[("shufA", "pretraining")] == default
    assert ("A100", "instruction") in steps
    measures = {v["measure"] for v in report["verdicts"]}
    assert {"loss on held-out author text", "loss on general text", "answers called the author's",
            "continuations called the author's"} <= measures
    assert {(r["measure"], r["arm"]) for r in report["table"]} == {(m, a) for m in measures for a in truth.ARMS}
    result = json.loads((out / "calibration.json").read_text())
    assert result["draws"] == 10 and all(set(m["placebo"]) == {"B", "shufA"} for m in result["measures"]
                                         if m["measure"].startswith("loss"))
    with gzip.open(out / "generations.jsonl.gz", "rt") as fh:
        arms = {json.loads(line)["arm"] for line in fh}
    assert arms == set(truth.ARMS), "every arm's texts kept for scoring again"
    again = tmp_path / "again"
    redone = subprocess.run([sys.executable, "-m", "bench.validation.known_truth", "--from_pool", str(out),
                             "--out", str(again), "--draws", "10"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert redone.returncode == 0, redone.stderr[-3000:]
    recomputed = json.loads((again / "known_truth.json").read_text())
    assert [r["mean"] for r in recomputed["table"]] == [r["mean"] for r in report["table"]], "same values, same sets"
    refused = subprocess.run([sys.executable, "-m", "bench.validation.known_truth", "--from_pool", str(out),
                              "--out", str(again)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "never overwritten" in refused.stderr
