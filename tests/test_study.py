"""The study's own pieces (the authorship measure, the probe sets, drafting) and the whole study on the tiny
model: real arms, real generation, the four claims, the report."""

import json
import random

import numpy as np
import pytest

from lib.data import cleaning, corpus
from lib.files import storage
from lib.study import (authorship, checkers, domination, drafting, inextricability, probes, replica, report,
                       steerability)
from lib.study import study as study_mod
from tests.conftest import ROOT, SAMPLE

GENERAL = (ROOT / "data/sample/general_reference.txt").read_text()


@pytest.fixture(scope="module")
def sample_docs():
    return cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]


# --- the authorship measure ----------------------------------------------------------------------------

def test_authorship_hears_the_sample_author_and_excludes_what_is_too_short(sample_docs):
    """Mechanics on the bundled sample (one generic voice: what it says of other authors is tests/test_oracle.py's)."""
    measure = authorship.AuthorshipMeasure(words=60).fit([d.text for d in sample_docs[:-2]], {"general": [GENERAL]})
    held = [w for d in sample_docs[-2:] for w in authorship.windows(d.text, 60)]
    assert np.mean([p > 0.5 for p in measure.probability(held)]) >= 0.8, "her unseen text is hers"
    assert np.mean([p < 0.5 for p in measure.probability(authorship.windows(GENERAL, 60))]) >= 0.9, "the other is not"
    assert measure.probability(["Yes.", " ".join(["word"] * 59)]) == [None, None], "too short: excluded, not scored"
    assert measure.author_like(["Yes."]) == [None]
    unfitted = authorship.AuthorshipMeasure(words=60).fit(["too short"], {"general": [GENERAL]})
    assert unfitted.mode == authorship.NOT_FITTED and "at least 2 windows of 60 words" in unfitted.reason
    assert unfitted.probability(held[:2]) == [None, None], "not fitted: every text excluded, none scored"
    assert unfitted.pick_author(held[:3]) is None
    check = unfitted.check([d.text for d in sample_docs[-2:]])
    assert not check.fit and check.sensitivity.n == check.specificity.n == 0


def test_without_a_generic_corpus_the_measure_says_it_only_measures_distance_from_the_base(sample_docs):
    base_answers = authorship.windows(GENERAL, 70)
    measure = authorship.AuthorshipMeasure(words=60).fit([d.text for d in sample_docs[:-2]], {}, base_answers)
    check = measure.check([d.text for d in sample_docs[-2:]])
    assert measure.mode == check.mode == authorship.BASE_DISTANCE
    assert check.sensitivity.n > 0 and check.specificity.n > 0 and check.held_out_authors == ["base model"]


def test_digidan_pick_finds_the_author_among_others_and_guesses_among_her_own(sample_docs):
    measure = authorship.AuthorshipMeasure(words=60).fit([d.text for d in sample_docs[:8]], {"general": [GENERAL]})
    hers = [w for d in sample_docs[8:] for w in authorship.windows(d.text, 80)]
    others = authorship.windows(GENERAL, 80)
    assert measure.pick_author([hers[0]] + others[:4]) == 0, "high: the real one stands out"
    rng = random.Random(0)
    picks = [measure.pick_author(rng.sample(hers, 5)) == 0 for _ in range(60)]
    assert np.mean(picks) < 0.45, "low: among five of her own, the 'real' one is a guess"


def test_in_first_person():
    assert replica.in_first_person("So I think the view is right.")
    assert not replica.in_first_person("The tide rises twice a day; Iago mines it.")


# --- probe sets ------------------------------------------------------------------------------------

def test_derived_probe_sets_come_from_held_out_documents(sample_docs):
    held = {d.name: [d.text] for d in sample_docs[-3:]}
    openings = probes.completion_probes(held, limit=5)
    assert len(openings) == 5 and len({o["document"] for o in openings}) == 3, "spread over the documents"
    assert all(len(o["opening"].split()) == 60 and len(o["truth"].split()) == 150 for o in openings)
    written = [{"id": "w1", "question": "Q?", "answer": "An answer."}]
    items = probes.digidan_sources(written, held, limit=8)
    assert items[0]["source"] == "written" and {i["source"] for i in items[1:]} == {"held-out passage"}
    assert all(i["answer"].rstrip("\"'\u201d)").endswith((".", "?", "!")) for i in items[1:]), "whole sentences"
    assert not any(d.title in i["answer"][: len(d.title) + 1] for d in sample_docs[-3:] for i in items[1:]), "no titles"


def test_another_corpus_is_refused_the_sample_authors_probes(tmp_path):
    bundled = ROOT / "data" / "probes"
    probes.check_belongs(bundled, ["narrative_self.txt", "mine.txt"])  # the sample's own documents: fine
    with pytest.raises(probes.ProbeError, match=r"written for data/sample/complete_corpus\.txt.*python -m lib probes"):
        probes.check_belongs(bundled, ["essay-on-will.txt", "essay-on-noise.txt"])
    probes.check_belongs(tmp_path, ["essay-on-will.txt"])  # a hand-made probe set without a manifest: trusted


def test_drafting_writes_a_probe_set_for_the_corpus_that_the_study_accepts(tiny_run, tmp_path):
    folder = drafting.draft(tiny_run.cfg, tmp_path / "mine")
    found = probes.read_probes(folder)
    assert len(found["questions"]) >= 20 and found["new_context"] == [] and found["author_answers"] == []
    assert len(found["instructions"]) == len(probes.read_probes(ROOT / "data/probes")["instructions"])
    made = probes.manifest(folder)
    assert made["corpus"] == tiny_run.cfg.corpus and "narrative_self.txt" in made["documents"]
    written = [json.loads(line) for line in (folder / "author_answers.jsonl").read_text().splitlines()]
    assert written and all(row["answer"] == "" for row in written), "questions waiting for her answers"
    assert "only you can write" in (folder / "README.md").read_text().lower()
    with pytest.raises(drafting.DraftError, match="already there"):
        drafting.draft(tiny_run.cfg, folder)
    with pytest.raises(drafting.DraftError, match="bundled sample"):
        drafting.draft(tiny_run.cfg, ROOT / "data" / "probes")


# --- the whole study on the tiny model -----------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tiny_run, tmp_path_factory):
    """The tiny run's study with short answers and a few probes of each kind (the tiny model is plumbing: what
    matters is that every path runs). The instruction probes kept are those that can be met in 64 tokens, one
    per kind where one can (the loader refuses the others, as it must)."""
    folder = tmp_path_factory.mktemp("probes")
    for name in probes.PROBE_FILES.values():
        (folder / name).write_text((ROOT / "data/probes" / name).read_text())
    cap = 64
    with pytest.raises(probes.ProbeError, match=r"instructions\.jsonl: line \d+"):
        probes.check_usable(probes.read_probes(folder), folder, cap)
    found = probes.read_probes(folder)
    kinds = {}
    for row in found["instructions"]:
        if checkers.feasible(row["check"], cap) is None:
            kinds.setdefault(row["check"]["kind"], row)
    storage.write_jsonl(folder / "instructions.jsonl", list(kinds.values()))
    for key in ("new_context", "override", "author_answers"):
        storage.write_jsonl(folder / probes.PROBE_FILES[key], found[key][:4])
    storage.write_text(folder / "questions.txt", "\n".join(found["questions"][:8]) + "\n")
    with tiny_run.outputs():
        yield study_mod.open_study(tiny_run.cfg.replace(
            probe_dir=str(folder), probe_max_new_tokens=96, instruction_max_new_tokens=cap, authorship_words=40,
            bootstrap_samples=300, judge=True, digidan_samples=2, digidan_items=6, completion_probes=6))


def test_arms_share_one_base_and_switch_adapters(study):
    arms = study.arms
    assert arms.names == ["base", "pretraining", "instruction"]
    assert sorted(arms.model.peft_config) == ["instruction", "pretraining"]  # one model, two adapters
    text = "The narrative self at the bedside is a story read whole, not a list of preferences sampled in passing."
    losses = {arm: arms.losses(arm, [text], min_tokens=4)[0][1] for arm in arms.names}
    assert len({round(v, 5) for v in losses.values()}) == 3, "each arm is a different model"
    assert arms.losses("base", [text], min_tokens=4)[0][1] == pytest.approx(losses["base"])  # switching back is exact


@pytest.mark.slow
def test_the_four_claims_and_the_report(study):
    results = [module.run(study) for module in (inextricability, steerability, replica, domination)]
    estimates, contrasts = report.tables(study, results)
    arms = {"base", "stage 1", "stage 1 + 2"}
    for claim, measure in [("1 inextricability", "loss on held-out author text"),
                           ("1 inextricability", "loss on general text"),
                           ("1 inextricability", "answers called the author's"),
                           ("2 steerability", "instruction compliance"), ("2 steerability", "follows the new statement"),
                           ("3 replica", "continuation ROUGE-L"), ("3 replica", "DigiDan: the author's real answer picked"),
                           ("4 domination", "boosters per 100 words, relative to the author's"),
                           ("4 domination", "judged more authoritative than the author's passage")]:
        chosen = estimates[(estimates.claim == claim) & (estimates.measure == measure)]
        assert len(chosen), (claim, measure)
        assert set(chosen.arm) & arms
        ok = chosen.dropna(subset=["mean", "ci_low", "ci_high"])
        assert (ok.ci_low <= ok["mean"] + 1e-9).all() and (ok["mean"] <= ok.ci_high + 1e-9).all()
        assert (ok.ci_high > ok.ci_low).all(), "no interval is zero-width"
        none = chosen[chosen.ci_low.isna() & chosen["mean"].notna()]
        assert none.method.str.contains("no interval|no spread|too few").all(), "a missing interval says why"
    loss = contrasts[contrasts.contrast == "loss on held-out author text: stage 1 - base"]
    assert len(loss) == 1 and loss.iloc[0]["unit"].endswith("resampled by document")
    assert study.check.mode == authorship.BASE_DISTANCE, "no generic corpus in the tiny run"
    assert estimates[estimates.measure == "answers called the author's"].exploratory.all(), "never a headline then"
    folder = report.save(study, results)
    for name in ("measures.csv", "contrasts.csv", "report.json", "report.html", "generations.jsonl", "claim1.png",
                 "claim4.png"):
        assert (folder / name).exists(), name
    saved = storage.read_json(folder / "report.json")
    assert not [p for p in saved["primary"] if "called the author's" in p["contrast"]], "not validated: no headline"
    classified = estimates[estimates.measure.str.contains("called the author's|author probability|moves away from "
                                                          "the author|DigiDan")]
    assert len(classified) and classified.exploratory.all(), "every measure built on the classifier is exploratory"
    assert {p["contrast"] for p in saved["primary"]} <= set(study.cfg.primary_contrasts)
    assert all("p_holm" in p for p in saved["primary"]) and saved["provenance"]["data hash"]
    records = [json.loads(line) for line in (folder / "generations.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in records} == {"base", "pretraining", "instruction"}
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html and "Tiny model" in html and "base distance" in html
    assert html.index("Primary contrasts") < html.index("Claim 1 inextricability")
    # no control author in the tiny run: said first, and Holm still runs over the declared family
    assert saved["primary_family"] == len(study.cfg.primary_contrasts)
    assert len(saved["primary"]) + len(saved["primary_missing"]) == saved["primary_family"]
    assert saved["without_control"] and saved["match"] == {"control": False}
    assert html.index("No control author") < html.index("Declared primaries not computed") < html.index(
        "Primary contrasts")
    assert [r["n"] for r in saved["sizes"] if r["probe set"].startswith("held-out documents")] == [
        len(study.author_held_out), 0]
    assert len(report.checklist(estimates, contrasts)) == 12
