"""Claim 1 on the control-author design: the two-sample statistics (coverage on data of known truth), the
2 x 2 cross-likelihood on arms whose losses are set by hand (detected when it is there, not when it is not,
and what a placebo does to each reading), Holm over the declared family, the sizes, the match, and what the
report says first without a control author. Fast: no model is trained here (the tiny run is in test_study)."""

import math
import random
import zlib
import re
from types import SimpleNamespace

import numpy as np
import pytest

from lib.settings import config
from lib.study import cross_likelihood as cl
from lib.study import inextricability, match, measures, report, stats
from lib.study import inference as inf
from lib.study.study import Study
from tests.conftest import ROOT

DATA_SETS, RESAMPLES = 1000, 999
LOW, HIGH = 0.92, 0.98


# --- the two-sample statistics, on simulated documents of known truth ---------------------------------------

def documents(rng, clusters: int, mean: float, sd: float, skewed: bool):
    """Uneven documents (1-39 windows), document effects around `mean` (skewed: exponential), window noise."""
    counts = rng.integers(1, 40, (DATA_SETS, clusters)).astype(float)
    effect = (rng.exponential(sd, (DATA_SETS, clusters)) - sd) if skewed else rng.normal(0, sd, (DATA_SETS, clusters))
    noise = rng.normal(0, 0.02 / np.sqrt(counts)) * counts
    return (mean + effect) * counts + noise, counts


@pytest.mark.parametrize("skewed", (False, True))
def test_difference_of_two_sets_of_documents_covers(skewed):
    for her, his in ((3, 3), (5, 5), (3, 8), (8, 8), (12, 12)):
        rng = np.random.default_rng(her * 31 + his + skewed)
        first, second = documents(rng, her, -0.05, 0.02, skewed), documents(rng, his, 0.01, 0.02, False)
        diff, low, high, p, _, _ = inf.difference_intervals(first, second, inf.cluster_plan(her, RESAMPLES, 1),
                                                            inf.cluster_plan(his, RESAMPLES, 2))
        coverage = np.mean((low <= -0.06) & (-0.06 <= high))
        assert LOW <= coverage <= HIGH, (her, his, skewed, coverage)
        assert np.mean((p < 0.05) != ((low > 0) | (high < 0))) < 0.01, "p and interval tell the same story"
        null = documents(rng, her, 0.0, 0.02, skewed), documents(rng, his, 0.0, 0.02, False)
        _, _, _, p0, _, _ = inf.difference_intervals(*null, inf.cluster_plan(her, RESAMPLES, 3),
                                                     inf.cluster_plan(his, RESAMPLES, 4))
        assert np.mean(p0 < 0.05) <= 0.08, (her, his, "keeps its size")


def test_the_coverage_check_fails_pooling_the_two_sides_as_one_sample():
    """Treating the two sides' windows as independent values covers far less than 95%."""
    rng = np.random.default_rng(7)
    (t1, c1), (t2, c2) = documents(rng, 8, 0.0, 0.02, False), documents(rng, 8, 0.0, 0.02, False)
    diff = t1.sum(1) / c1.sum(1) - t2.sum(1) / c2.sum(1)
    half = 1.96 * 0.02 * np.sqrt(1 / c1.sum(1) + 1 / c2.sum(1))
    assert np.mean(np.abs(diff) <= half) < 0.6


@pytest.mark.parametrize("numerator,denominator", [(0.03, 0.06), (0.06, 0.06), (0.0, 0.06)])
def test_fieller_ratio_covers_where_it_is_bounded(numerator, denominator):
    for clusters in (5, 8, 12):
        for skewed in (False, True):
            rng = np.random.default_rng(clusters + int(1000 * numerator) + skewed)
            top, bottom = documents(rng, clusters, numerator, 0.012, skewed), documents(rng, clusters, denominator,
                                                                                          0.01, skewed)
            _, low, high, bounded = inf.ratio_intervals(top, bottom, inf.cluster_plan(clusters, RESAMPLES, 5),
                                                        inf.cluster_plan(clusters, RESAMPLES, 6))
            truth = numerator / denominator
            coverage = np.mean((low <= truth) & (truth <= high) & bounded) / np.mean(bounded)
            # 3-5 documents: the t alone; skewed documents with a numerator near 0 covered 90% there
            floor = 0.88 if clusters < inf.MIN_RESAMPLED_CLUSTERS and skewed else LOW
            assert bounded.mean() > 0.9 and floor <= coverage <= HIGH, (clusters, skewed, numerator, coverage)


def test_a_ratio_over_a_noise_is_undefined_not_huge():
    rng = np.random.default_rng(8)
    gain = [list(rng.normal(0.05, 0.01, 20)) for _ in range(6)]
    noise = [list(rng.normal(0.0, 0.01, 20)) for _ in range(6)]
    e = stats.clustered_ratio(gain, noise)
    assert math.isnan(e.mean) and math.isnan(e.low) and e.method.startswith("undefined")
    fine = stats.clustered_ratio([list(rng.normal(0.02, 0.005, 20)) for _ in range(6)], gain)
    assert fine.low < 0.4 < fine.high and "Fieller" in fine.method
    few = stats.clustered_difference(gain[:2], noise)
    assert math.isnan(few.low) and "at least 3" in few.method and few.n == 8
    assert stats.clustered_difference(gain, noise).p_value < 0.001


# --- the 2 x 2 on arms whose losses are set by hand ---------------------------------------------------------

class SetArms:
    """Arms whose loss on each passage is set: a passage's base loss (its document's level plus noise) minus
    what the arm gained on that author's text. `gains`: arm -> {"her": g, "his": g, "general": g}."""

    can_score = True

    def __init__(self, gains: dict[str, dict[str, float]], owner: dict[str, tuple[str, float]], seed: int = 0):
        self.names, self.gains, self.owner, self.run = ["base", *gains], gains, owner, None
        self.noise = random.Random(seed)

    def losses(self, arm: str, texts: list[str]) -> list[tuple[int, float]]:
        out = []
        for i, text in enumerate(texts):
            whose, level = self.owner[text]
            gain = self.gains.get(arm, {}).get(whose, 0.0)
            out.append((i, level - gain + random.Random(zlib.crc32(f"{arm}|{text}".encode())).gauss(0, 0.004)))
        return out


def set_study(gains: dict[str, dict[str, float]], her_documents: int = 6, his_documents: int = 6) -> Study:
    owner, rng = {}, random.Random(3)

    def corpus(whose: str, n: int) -> dict[str, list[str]]:
        found = {}
        for d in range(n):
            level = 4.0 + rng.gauss(0, 0.2)
            found[f"{whose}{d}"] = [f"{whose}-{d}-{w}" for w in range(rng.randint(4, 12))]
            owner.update({text: (whose, level + rng.gauss(0, 0.01)) for text in found[f"{whose}{d}"]})
        return found

    her, his, general = corpus("her", her_documents), corpus("his", his_documents), corpus("general", 8)
    cfg = config.load_config(ROOT / "config.yaml", bootstrap_samples=999)
    return Study(cfg, SetArms(gains, owner), ROOT, {}, [], her, {}, general, None, None, None, None,
                 control_held_out=his)


def two_by_two(gains):
    study = set_study(gains)
    found = [inextricability.loss_measure(study, cl.HER, study.author_held_out, "", ""),
             inextricability.loss_measure(study, cl.HIS, study.control_held_out, "", ""),
             inextricability.loss_measure(study, "loss on general text", study.general, "", "")]
    rows, tables = inextricability.two_by_two(study, found)
    paired = {r["contrast"]: r for m in found for r in measures.contrast_rows(m, 999, 0)}
    return {r["contrast"]: r for r in rows} | paired, tables


def detected(row: dict) -> bool:
    return row["p_value"] < 0.05 and (row["ci_low"] > 0 or row["ci_high"] < 0)


HERS = "loss on held-out author text: stage 1 - control stage 1"
CROSSED = "loss on her text minus on the control's: stage 1 - control stage 1"
INDEX = "inextricability index (gain on his text / on hers): stage 1 - base"


def test_learning_her_is_detected_by_every_reading():
    """Her arm gains 0.05 nats on her text only; the control's arm gains 0.05 on his only."""
    found, tables = two_by_two({"pretraining": {"her": 0.05}, "control_pretraining": {"his": 0.05}})
    assert detected(found[HERS]) and found[HERS]["ci_low"] < -0.05 < found[HERS]["ci_high"]
    assert detected(found[CROSSED]) and found[CROSSED]["ci_low"] < -0.10 < found[CROSSED]["ci_high"]
    index = found[INDEX]
    assert index["ci_low"] < 0 < index["ci_high"] < 0.3, "none of her gain shows on his text"
    assert any("2 x 2" in title for title in tables) and "control" in next(iter(tables.values()))


def test_register_alone_is_detected_by_none():
    """Both arms gain 0.05 on both authors' texts (their register): nothing is hers."""
    both = {"her": 0.05, "his": 0.05}
    found, tables = two_by_two({"pretraining": both, "control_pretraining": both})
    assert not detected(found[HERS]) and not detected(found[CROSSED])
    assert found[INDEX]["ci_low"] < 1 < found[INDEX]["ci_high"]
    assert "reaches 1" in list(tables.values())[1]


def test_a_placebo_fools_the_interaction_not_her_text_contrast():
    """A placebo: an arm tuned on a third register-mate (gains 0.03 on both texts) against the control arm,
    which gains the same and 0.05 more at home. Her text alone: nothing. The interaction: the control's home
    advantage, called hers."""
    found, _ = two_by_two({"pretraining": {"her": 0.03, "his": 0.03},
                           "control_pretraining": {"her": 0.03, "his": 0.08}})
    assert not detected(found[HERS])
    assert detected(found[CROSSED]) and found[CROSSED]["mean"] == pytest.approx(-0.05, abs=0.01)


def test_no_gain_on_her_text_leaves_the_index_undefined():
    found, tables = two_by_two({"pretraining": {"his": 0.04}, "control_pretraining": {"his": 0.05}})
    assert math.isnan(found[INDEX]["mean"]) and "undefined" in found[INDEX]["method"]
    assert "undefined" in list(tables.values())[1]


def test_forgetting_on_general_text_stays():
    found, _ = two_by_two({"pretraining": {"her": 0.05, "general": -0.03}, "control_pretraining": {"his": 0.05}})
    assert detected(found["loss on general text: stage 1 - base"])
    assert found["loss on general text: stage 1 - base"]["mean"] == pytest.approx(0.03, abs=0.01)


# --- the declared family -------------------------------------------------------------------------------------

def contrast(name: str, p: float, **extra) -> dict:
    measure = name.rpartition(": ")[0]
    return {"contrast": name, "measure": measure, "mean": -0.1, "ci_low": -0.2, "ci_high": -0.01, "n": 5,
            "p_value": p, "method": "m", "unit": "window, resampled by document", "exploratory": False, **extra}


def test_holm_runs_over_the_declared_family_with_missing_primaries_at_p_1():
    declared = ["a: stage 1 - base", "b: stage 1 - base", "c: stage 1 - base", "d: stage 1 - base",
                "a: stage 1 + 2 - control stage 1 + 2"]
    rows = [contrast("a: stage 1 - base", 0.01), contrast("b: stage 1 - base", 0.02),
            contrast("c: stage 1 - base", 0.2, exploratory=True),
            contrast("a: stage 1 - control stage 1", float("nan"), n=2, method="2 document(s): no interval")]
    chosen, missing = measures.primary(rows, declared + ["a: stage 1 - control stage 1"],
                                       {"a: stage 1 + 2 - control stage 1 + 2": "no control corpus"})
    holm = stats.holm({"a: stage 1 - base": 0.01, "b: stage 1 - base": 0.02, "x": 1, "y": 1, "z": 1, "w": 1})
    assert {r["contrast"]: r["p_holm"] for r in chosen} == pytest.approx(
        {"a: stage 1 - base": holm["a: stage 1 - base"], "b: stage 1 - base": holm["b: stage 1 - base"]})
    assert chosen[0]["p_holm"] == pytest.approx(0.06), "six declared: 0.01 x 6"
    reasons = {m["contrast"]: m["reason"] for m in missing}
    assert "exploratory" in reasons["c: stage 1 - base"]
    assert "'d' was not computed" in reasons["d: stage 1 - base"]
    assert reasons["a: stage 1 + 2 - control stage 1 + 2"] == "no control corpus"
    assert "too few held-out documents (2" in reasons["a: stage 1 - control stage 1"]
    alone, _ = measures.primary(rows[:1], ["a: stage 1 - base"])
    assert alone[0]["p_holm"] == pytest.approx(0.01), "a family of one is not corrected"


def no_control_study(held: int = 5):
    cfg = config.load_config(ROOT / "config.yaml")
    return SimpleNamespace(cfg=cfg, has_control=False, model_arms=["base", "pretraining", "instruction"],
                           author_held_out={f"d{i}": ["x"] for i in range(held)}, control_held_out={})


def test_without_a_control_the_report_says_first_what_it_cannot_claim():
    study = no_control_study()
    declared = config.PRIMARY_CONTRASTS
    reasons = report.missing_arms(study, declared)
    assert set(reasons) == {n for n in declared if "control" in n}
    assert all("no control corpus" in r for r in reasons.values())
    chosen, missing = measures.primary([contrast("instruction compliance: stage 1 + 2 - base", 0.001)], declared,
                                       reasons)
    assert len(chosen) + len(missing) == len(declared) == 7, "Holm's family is the declared one"
    assert chosen[0]["p_holm"] == pytest.approx(0.007)
    html = report.first_lines_html(study, missing)
    assert html.index("No control author") < html.index("Declared primaries not computed")
    assert "Claim 1" in html and "Claim 3" in html and "stand without a control" in html
    for name in declared:
        if name != "instruction compliance: stage 1 + 2 - base":
            assert name.replace("'", "&#x27;") in html
    assert "No control author" not in report.first_lines_html(SimpleNamespace(has_control=True), [])


def test_sizes_show_held_out_documents_per_author():
    rows = report.held_out_sizes(no_control_study(5))
    her, his = rows
    assert her["n"] == 5 and her["sized for"] == 5 and her["below size"] == ""
    assert re.match(r"0\.024 nats at best", her["smallest detectable difference (80% power, 5%)"])
    assert his["below size"] == "no control"
    few = report.held_out_sizes(no_control_study(2))[0]
    assert few["below size"] == "yes" and few["smallest detectable difference (80% power, 5%)"] == ""
    with_control = SimpleNamespace(**{**vars(no_control_study(6)), "has_control": True,
                                      "control_held_out": {f"c{i}": ["y"] for i in range(4)}})
    assert [r["n"] for r in report.held_out_sizes(with_control)] == [6, 4]
    assert report.held_out_sizes(with_control)[1]["below size"] == "yes"


# --- the match ------------------------------------------------------------------------------------------------

def sample_documents() -> list[str]:
    text = (ROOT / "data/sample/complete_corpus.txt").read_text()
    return [part.split("===", 1)[-1] for part in text.split("=== DOCUMENT:")[1:]]


def match_study(tmp_path, control: list[str], others: dict[str, list[str]], his_tokens: int):
    from lib.files import storage

    for arm, tokens in (("pretraining", 10_000), ("control_pretraining", his_tokens)):
        storage.write_json(tmp_path / arm / "manifest.json", {"steps": 12, "resources": {"tokens": tokens},
                                                              **({"matched_to": {"arm": "pretraining", "steps": 12, "tokens": 10_000}} if "control" in arm
                                                                 else {})})
    docs = sample_documents()
    return SimpleNamespace(cfg=config.load_config(ROOT / "config.yaml", processed_dir=str(tmp_path / "none")),
                           has_control=True, arms=SimpleNamespace(run=tmp_path), author_train=docs[:4],
                           author_held_out={"a": [docs[4]], "b": [docs[5]]}, control_train=control[:-1],
                           control_held_out={"c": control[-1:]}, generic=others)


def test_the_match_reports_tokens_documents_and_register_and_warns_when_far(tmp_path):
    docs = sample_documents()
    general = (ROOT / "data/sample/general_reference.txt").read_text().split("\n\n")
    thirds = [" ".join(general[i::3]) for i in range(3)]
    near = match_study(tmp_path, docs[6:9], {f"general {i}": [t] for i, t in enumerate(thirds)}, 10_300)
    found = match.report(near)
    assert found["stages"][0]["tokens, his / hers"] == "1.030"
    assert found["stages"][0]["matched to (his manifest)"] == "matched to pretraining: 12 optimiser steps (10,000 tokens)"
    assert found["register"]["share_nearer"] == 0.0 and not found["warnings"], found["warnings"]
    assert [c["held-out documents"] for c in found["corpora"]] == [2, 1]
    far = match.report(match_study(tmp_path, thirds, {f"her {i}": [d] for i, d in enumerate(docs[6:12])}, 11_000))
    assert far["register"]["share_nearer"] == 1.0
    assert any("far from her register" in w for w in far["warnings"])
    assert any("more than 5% apart" in w for w in far["warnings"])
    unplaced = match.report(match_study(tmp_path, docs[6:9], {}, 10_000))
    assert any("cannot be placed" in w for w in unplaced["warnings"])
    html = match.to_html(far)
    assert "Burrows' Delta" in html and "far from her register" in html
    assert match.report(no_control_study()) == {"control": False}


# --- the known-truth decision between the readings -------------------------------------------------------------

def known_truth_pool(gains: dict[str, dict[str, float]], documents: int = 16) -> dict:
    """A pool like bench/validation/known_truth.py's: every arm's loss on each window of her and his held-out documents."""
    rng = random.Random(11)
    entries = []
    for name, whose in ((cl.HER, "her"), (cl.HIS, "his")):
        values, clusters = {arm: [] for arm in ["base", *gains]}, []
        for d in range(documents):
            level = 4.0 + rng.gauss(0, 0.2)
            for _ in range(rng.randint(5, 30)):
                window = level + rng.gauss(0, 0.05)
                clusters.append(f"{whose}{d}")
                for arm in values:
                    values[arm].append(window - gains.get(arm, {}).get(whose, 0.0) + rng.gauss(0, 0.004))
        entries.append({"name": name, "unit": "window", "kind": "mean", "values": values, "clusters": clusters})
    return {"measures": entries}


def test_the_known_truth_decision_fails_the_interaction_on_a_placebo_and_passes_her_text_alone():
    from bench.validation import claim1_placebo

    register = 0.02
    pool = known_truth_pool({"A25": {"her": register / 2 + 0.02, "his": register / 2},
                             "A100": {"her": register + 0.05, "his": register},
                             "C100": {"her": register, "his": register + 0.05},
                             "P100": {"her": register, "his": register}})
    rows = {r["reading"]: r for r in claim1_placebo.decide(pool, ["A25", "A100"], "C100", "P100", size=5, draws=40,
                                                           resamples=499)}
    assert rows["her text alone"]["placebo called hers"] <= 0.1 and rows["her text alone"]["power, A25"] >= 0.9
    assert rows["interaction"]["placebo called hers"] >= 0.9, "the control's home advantage is called hers"
    assert rows["interaction"]["passes"] == "no"
    assert rows["her text against his"]["placebo called hers"] <= 0.1
    assert rows["inextricability index"]["placebo called hers"] <= 0.1
    assert rows["inextricability index"]["power, A100"] >= 0.9
    assert "placebo called hers" in claim1_placebo.markdown(list(rows.values()), 5, 40)


# --- the whole of claim 1 on the tiny model with a control author ------------------------------------------------

@pytest.mark.slow
def test_claim_1_with_a_control_author_on_the_tiny_model(tmp_path, monkeypatch):
    """Her stage 1 and a stand-in control author's (the sample's essays with their sentences in reverse order,
    prepared into processed/control and trained alike, matched to her steps) as arms of one run: claim 1's primary computed with Holm
    over the declared family, the 2 x 2 and the index in the report, the match read from the manifests."""
    from lib.data import prepare
    from lib.files import storage
    from lib.study import study as study_mod
    from lib.train import stage

    from lib.study import probes

    monkeypatch.setenv("P4_OUTPUTS", str(tmp_path / "outputs"))
    few = tmp_path / "probes"   # the sample's probes, a few of each (claim 1 asks the questions, the fit the rest)
    for key, name in probes.PROBE_FILES.items():
        lines = (ROOT / "data/probes" / name).read_text().splitlines()
        storage.write_text(few / name, "\n".join(lines[: 8 if key == "questions" else 4]) + "\n")
    docs = (ROOT / "data/sample/complete_corpus.txt").read_text().split("=== DOCUMENT: ")[1:]
    control = "".join("=== DOCUMENT: " + head.replace(".txt", "_control.txt") + "\n" + " ".join(
        reversed(re.split(r"(?<=[.!?])\s+", body.strip()))) + "\n\n" for head, body in (d.split("\n", 1) for d in docs))
    storage.write_text(tmp_path / "control.txt", control)
    cfg = config.load_config(ROOT / "config.yaml", model="tiny", load_in_4bit=False, max_seq_length=256,
                             processed_dir=str(tmp_path / "processed"), run_name="with-control", max_steps=3,
                             per_device_train_batch_size=4, gradient_accumulation_steps=1, learning_rate=2e-2,
                             val_fraction=0.4, probe_max_new_tokens=32, authorship_words=20, bootstrap_samples=300,
                             probe_dir=str(few))
    cfg = cfg.replace(control_corpus=str(tmp_path / "control.txt"), control_qa_file=None)
    prepare.run(cfg, mode="pretraining", verbose=False)
    prepare.run_control(cfg, verbose=False)                  # into processed/control, by the same rules
    stage.train_stage(cfg, "pretraining", progress=False)   # stage 1 only: stage 2 adds time, not paths
    assert stage.train_control(cfg, "pretraining", progress=False).folder.name == "control_pretraining"
    study = study_mod.open_study(cfg)
    assert study.has_control and len(study.author_held_out) == len(study.control_held_out) == 5
    assert study.model_arms == ["base", "pretraining", "control_pretraining"]
    claim1 = inextricability.run(study)
    estimates, contrasts = report.tables(study, [claim1])
    headline, missing = report.primary(contrasts, cfg.primary_contrasts, study)
    computed = set(headline.contrast) if len(headline) else set()
    assert "loss on held-out author text: stage 1 - control stage 1" in computed
    assert len(headline) + len(missing) == len(cfg.primary_contrasts), "Holm's family is the declared one"
    reasons = {m["contrast"]: m["reason"] for m in missing}
    assert "control author's stage was not trained" in reasons[
        "loss on held-out author text: stage 1 + 2 - control stage 1 + 2"]
    assert reasons["instruction compliance: stage 1 + 2 - base"] == "arm not in this run: stage 1 + 2"
    assert not any("control corpus" in r for r in reasons.values())
    names = set(contrasts.contrast)
    assert {CROSSED, INDEX, "loss on her text minus on the control's: stage 1 - base"} <= names
    assert "loss on the control author's held-out text: control stage 1 - base" in names
    assert any("2 x 2" in t for t in claim1.tables) and not claim1.notes
    found = match.report(study)
    assert [(r["stage"], r["her steps"], r["his steps"]) for r in found["stages"]] == [("stage 1", 3, 3)]
    assert 0.5 < float(found["stages"][0]["tokens, his / hers"]) < 2
    assert [c["held-out documents"] for c in found["corpora"]] == [5, 5]
    assert any("cannot be placed" in w for w in found["warnings"]), "no generic corpus in this run"
    folder = report.save(study, [claim1], computed=(estimates, contrasts))
    saved = storage.read_json(folder / "report.json")
    assert saved["primary_family"] == 7 and saved["without_control"] == [] and saved["match"]["control"]
    html = (folder / "report.html").read_text()
    assert "No control author" not in html and "Declared primaries not computed" in html
    assert html.index("Declared primaries not computed") < html.index("Primary contrasts") < html.index(
        "the match the study got") < html.index("cannot be placed")
