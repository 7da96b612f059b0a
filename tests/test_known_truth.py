"""The known-truth experiment (bench/validation/known_truth.py): its pieces on inputs whose answer is known, and the whole
script end to end on CPU in its --smoke setting (a few thousand tokens, a few steps), so that it cannot rot."""

import gzip
import json
import random
import subprocess
import sys
from collections import Counter

import pytest

from bench.validation import calibration, known_truth
from bench.validation import known_truth_control as control
from bench.validation import known_truth_study as truth
from tests.conftest import ROOT, needs_shared


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


def folder(tmp_path, name: str, seed: int, checks: list[dict]):
    """A finished (pair, seed) folder holding only its checks."""
    path = tmp_path / f"{name}-seed{seed}"
    path.mkdir()
    (path / "checks.json").write_text(json.dumps({"pair": name, "seed": seed, "device": "test", "checks": checks,
                                                  "writers": {"A": "a", "C": "c", "P": "p"}}))
    return path


def centred(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    return [v - mean for v in values]


def simulated_check(reading, effect: float, placebo_shift: float, seed: int) -> dict:
    """A reading checked on a simulated pool whose truth is known exactly: per window, her arm at dose d is
    below its control by effect * d/100, the placebo below the control by `placebo_shift`, plus document-level
    and window-level noise centred on the pool (so the pool's own contrasts are exactly those); the study's own
    statistics do the rest (known_truth_control.check)."""
    from lib.study.measures import MEAN, Measure

    rng = random.Random(seed)
    names = [f"d{i}" for i in range(16)]
    docs = [d for d in names for _ in range(6)]                     # 16 documents of 6 windows each

    def noise() -> list[float]:
        level = dict(zip(names, centred([rng.gauss(0, 0.05) for _ in names])))
        return [level[d] + w for d, w in zip(docs, centred([rng.gauss(0, 0.05) for _ in docs]))]

    base = [4.0 + v for v in noise()]
    arms = {}
    for dose, a, c in reading.doses:
        arms[c] = [b + n for b, n in zip(base, noise())]
        arms[a] = [v - effect * dose / 100 + n for v, n in zip(arms[c], noise())]
    arms[reading.placebo[0]] = [v - placebo_shift + n for v, n in zip(arms[reading.placebo[1]], noise())]
    measure = Measure("1", reading.measures[0], "window", MEAN, "", "", values=arms, clusters=docs)
    return control.check(reading, {measure.name: measure}, {measure.name: 8}, draws=60, resamples=500, seed=seed)


def test_the_combiner_keeps_a_primary_with_a_real_effect_and_drops_one_whose_placebo_moves(tmp_path):
    from bench.validation import known_truth_combine as combine

    reading = control.READINGS[0]
    assert reading.name == "loss on held-out author text: stage 1 - control stage 1" and reading.sign == -1
    good = [folder(tmp_path, "good", s, [simulated_check(reading, 0.4, 0.0, s)]) for s in (0, 1)]
    found = combine.combine(good, primaries=[reading.name, "instruction compliance: stage 1 + 2 - base"])
    row, untested = found["primaries"]
    assert row["verdict"] == "passes", row
    assert row["placebo_rate"] <= 0.05 and row["power_25"] >= 0.8 and row["dose_response"] == "2/2 folders"
    assert untested["verdict"] == "not tested" and "chat model" in untested["reason"]
    bad = [folder(tmp_path, "bad", s, [simulated_check(reading, 0.4, 0.2, s)]) for s in (0, 1)]
    row = combine.combine(bad, primaries=[reading.name])["primaries"][0]
    assert row["verdict"] == "leaves the headline" and "placebo is called hers" in row["reason"], row
    assert row["placebo_rate"] > 0.5
    assert "Leaves the headline: " + reading.name in combine.markdown(combine.combine(bad, primaries=[reading.name]))


@pytest.mark.slow
@needs_shared
def test_the_control_design_runs_end_to_end_on_cpu_and_every_primary_gets_a_verdict(tmp_path):
    from lib.settings import config

    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "bench.validation.known_truth", "--smoke", "--pairs", "default",
                           "--seeds", "0", "--out", str(out), "--work", str(tmp_path), "--draws", "4"], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "default-seed0" / "report.json").read_text())
    assert report["complete"] and report["writers"]["A"] == "Arthur Schopenhauer"
    runs = {r["arm"]: r for r in report["arms"]["runs"]}
    default = report["arms"]["default_steps"]
    for arm, steps in {"A25": max(1, round(default / 4)), "A100": default, "A300": 3 * default}.items():
        assert runs[arm]["steps"] == steps and runs["C" + arm[1:]]["steps"] == steps, "the control matched to her"
        assert runs["C" + arm[1:]]["control"] and runs["C" + arm[1:]]["matched_to"]
    assert runs["P100"]["steps"] == default and runs["P100+s2"]["steps"] == runs["A100+s2"]["steps"]
    held = json.loads((out / "population_model.json").read_text())["held_out_with_a_role"]
    assert report["writers"]["P"] in held, "the placebo never pretrained on"
    combined = json.loads((out / "combined.json").read_text())
    declared = config.load_config(ROOT / "config.yaml").primary_contrasts
    assert [r["primary"] for r in combined["primaries"]] == list(declared)
    assert all(r["verdict"] in ("passes", "leaves the headline", "not tested") and r["reason"]
               for r in combined["primaries"])
    assert (out / "combined.md").read_text().count("|") > 20
