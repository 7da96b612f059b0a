"""The probe study's measures, each with a case where it must come out high and one where it must be low,
and the whole study on the tiny model."""

import json
import random

import numpy as np
import pytest

from lib.data import cleaning, corpus
from lib.study import checkers, domination, inextricability, probes, replica, report, steerability, stylometry
from lib.study import study as study_mod
from lib.study.retrieval import Retriever
from tests.conftest import ROOT, SAMPLE, SHARED_CORPORA, needs_shared

GENERAL = (ROOT / "data/sample/general_reference.txt").read_text()


@pytest.fixture(scope="module")
def sample_docs():
    return cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]


# --- instruction checkers -----------------------------------------------------------------------------

CASES = [
    ({"kind": "max_words", "n": 5}, "Families decide together.", "Families decide together with the physician."),
    ({"kind": "min_words", "n": 5}, "A story is read over a whole life.", "Too short."),
    ({"kind": "max_sentences", "n": 2}, "One. Two!", "One. Two. Three?"),
    ({"kind": "include_words", "words": ["garden", "compass"]}, "A compass in the garden.", "A garden only."),
    ({"kind": "forbid_words", "words": ["story", "narrative"]}, "A life read whole.", "The narrative self."),
    ({"kind": "no_commas"}, "No commas here at all.", "Here, a comma."),
    ({"kind": "lowercase"}, "all lower case here.", "One Capital here."),
    ({"kind": "bullets", "n": 3}, "Points:\n- one\n- two\n* three", "- one\n- two"),
    ({"kind": "json", "keys": ["position", "reason"]}, '```json\n{"position": "no", "reason": "x"}\n```',
     '{"position": "no"}'),
    ({"kind": "end_with", "phrase": "That is my view."}, "Families decide. That is my view.", "That is my view. Yes."),
    ({"kind": "title"}, "<<On Families>>\nText.", "On Families\nText."),
    ({"kind": "paragraphs", "n": 2}, "First.\n\nSecond.", "First.\nSecond."),
    ({"kind": "postscript", "marker": "P.S."}, "Answer.\n\nP.S. Read Ricoeur.", "Answer. Read Ricoeur."),
]


@pytest.mark.parametrize("spec, good, bad", CASES, ids=[c[0]["kind"] for c in CASES])
def test_instruction_checkers_accept_and_reject(spec, good, bad):
    assert checkers.check(good, spec) is True
    assert checkers.check(bad, spec) is False


def test_every_kind_in_the_probe_file_has_a_checker_and_empty_answers_fail():
    rows = [json.loads(line) for line in (ROOT / "data/probes/instructions.jsonl").read_text().splitlines() if line]
    kinds = {r["check"]["kind"] for r in rows}
    assert len(kinds) >= 10 and kinds <= set(checkers.CHECKERS)
    assert not any(checkers.check("", r["check"]) for r in rows if r["check"]["kind"] != "forbid_words")
    with pytest.raises(ValueError, match="unknown instruction kind"):
        checkers.check("x", {"kind": "haiku"})


# --- stance, authorship ---------------------------------------------------------------------------

def test_stance_follows_the_markers():
    new, old = ["follow it to the letter", "binding"], ["narrative self", "interpretation"]
    assert steerability.stance("It is binding: follow it to the letter.", new, old) == "new"
    assert steerability.stance("Read the narrative self; it is interpretation.", new, old) == "corpus"
    assert steerability.stance("I cannot say.", new, old) == "neither"


def split_words(text: str, start: float, end: float) -> str:
    words = text.split()
    return " ".join(words[int(start * len(words)):int(end * len(words))])


@needs_shared
def test_the_authorship_measure_tells_two_real_authors_apart():
    def text(name):
        docs = corpus.load_corpus(SHARED_CORPORA / name, strip_gutenberg=True, verbose=False)
        return " ".join(d.text for d in cleaning.clean_corpus(docs)[0])

    schopenhauer, chesterton = text("schopenhauer"), text("chesterton")
    model = stylometry.AuthorshipModel().fit([split_words(schopenhauer, 0, .6)], [split_words(chesterton, 0, .6)])
    held_s = stylometry.segments([split_words(schopenhauer, .6, 1)], 200)
    held_c = stylometry.segments([split_words(chesterton, .6, 1)], 200)
    s, c = model.score(held_s), model.score(held_c)
    assert np.mean([x.classifier_probability > .5 for x in s]) > .9
    assert np.mean([x.classifier_probability < .5 for x in c]) > .85
    assert np.mean([x.delta_author_like for x in s]) > .85
    assert np.mean([not x.delta_author_like for x in c]) > .8
    assert np.mean([x.mix for x in s]) < np.mean([x.mix for x in c])


def test_authorship_on_the_sample_author_high_and_low(sample_docs):
    train = [d.text for d in sample_docs[:-2]]
    model = stylometry.AuthorshipModel(segment_words=60).fit(train, [split_words(GENERAL, 0, .6)])
    author = model.score([sample_docs[-1].text, sample_docs[-2].text])
    generic = model.score([split_words(GENERAL, .6, 1)])
    assert all(a.classifier_probability > .5 for a in author)
    assert generic[0].classifier_probability < .5
    assert min(a.author_feature_share for a in author) > generic[0].author_feature_share
    with pytest.raises(ValueError, match="at least 2 segments"):
        stylometry.AuthorshipModel().fit(["too short"], [GENERAL])


def test_digidan_pick_finds_the_author_among_generic_answers_and_is_near_chance_among_her_own(sample_docs):
    model = stylometry.AuthorshipModel(segment_words=60).fit([d.text for d in sample_docs[:8]], [GENERAL])
    author = stylometry.segments([d.text for d in sample_docs[8:]], 80)
    general = stylometry.segments([GENERAL], 80)
    assert model.pick_author([author[0]] + general[:4]) == 0  # high: the real one stands out
    rng = random.Random(0)
    picks = [model.pick_author(rng.sample(author, 5)) == 0 for _ in range(60)]
    assert np.mean(picks) < 0.45  # low: among five of her own, the "real" one is a guess


def test_first_person_rate_and_cutting():
    assert replica.first_person_rate("I think my view is mine.") == 50
    assert replica.first_person_rate("The tide rises twice a day.") == 0
    cut = replica.cut_words("One two three. Four five six seven. Eight nine ten eleven twelve.", 8)
    assert cut == "One two three. Four five six seven."


# --- domination measures ----------------------------------------------------------------------------

def test_hedges_and_boosters():
    hedgy = "Perhaps it might be so; it seems likely, but I think it is unclear."
    firm = "Clearly it is so. It must be done, and it is certainly right; of course it is."
    assert domination.per_100_words(hedgy, domination.HEDGES) > 20 > domination.per_100_words(firm, domination.HEDGES)
    assert domination.per_100_words(firm, domination.BOOSTERS) > 20 > domination.per_100_words(hedgy, domination.BOOSTERS)


def test_readability_and_support():
    easy = "The cat sat. The dog ran. We had fun."
    hard = ("Notwithstanding considerable epistemological indeterminacy, institutional deliberation "
            "presupposes unquestionably sophisticated interpretative responsibilities.")
    assert domination.flesch_reading_ease(easy) > 80 > 0 > domination.flesch_reading_ease(hard)
    passages = ["A person is not a bundle of preferences sampled at intervals."]
    assert domination.support("A person is not a bundle of preferences.", passages) == 1.0
    assert domination.support("Tides rise twice daily along coasts.", passages) == 0.0


def test_judge_answers_are_parsed():
    assert domination.judge_choice("B") == "B" and domination.judge_choice("Answer A sounds surer.") == "A"
    assert domination.judge_choice("Neither.") is None


def test_retrieval_returns_the_right_document(sample_docs):
    chunks = [{"text": d.text, "document": d.name} for d in sample_docs]
    retriever = Retriever.from_chunks(chunks)
    top = retriever.search("consciousness capacity for experience moral standing rational capacity", k=3)
    assert top[0].document in {"the_capacity_for_experience.txt", "what_reason_cannot_ground.txt",
                               "minds_at_the_margins.txt"}
    assert retriever.search("checklist advance directive values letter", k=1)[0].document == "against_the_checklist.txt"


def test_probe_files_are_checked_line_by_line(tmp_path):
    for name in probes.PROBE_FILES.values():
        (tmp_path / name).write_text((ROOT / "data/probes" / name).read_text())
    assert len(probes.read_probes(tmp_path)["author_answers"]) >= 10
    (tmp_path / "override.jsonl").write_text('{"id": "x", "question": "q?"}\n')
    with pytest.raises(probes.ProbeError, match=r"override\.jsonl: line 1 lacks instruction"):
        probes.read_probes(tmp_path)


# --- the whole study on the tiny model -----------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tiny_run):
    with tiny_run.outputs():
        yield study_mod.open_study(tiny_run.cfg.replace(probe_max_new_tokens=24, bootstrap_samples=200, judge=True,
                                                        digidan_samples=2))


def test_arms_share_one_base_and_switch_adapters(study):
    arms = study.arms
    assert arms.names == ["base", "pretraining", "instruction"]
    assert sorted(arms.model.peft_config) == ["instruction", "pretraining"]  # one model, two adapters
    text = "The narrative self at the bedside is"
    losses = {arm: arms.losses(arm, [text])[0] for arm in arms.names}
    assert len({round(v, 5) for v in losses.values()}) == 3, "each arm is a different model"
    assert arms.losses("base", [text])[0] == pytest.approx(losses["base"])  # switching back is exact


def test_the_four_claims_and_the_report(study):
    results = [module.run(study) for module in (inextricability, steerability, replica, domination)]
    frame = report.summary(results)
    arms = {"base", "stage 1", "stage 1 + 2"}
    for claim, measure in [("1 inextricability", "perplexity: held-out author"),
                           ("1 inextricability", "forgetting: loss rise on general text"),
                           ("1 inextricability", "author-like (classifier)"),
                           ("2 steerability", "instruction compliance"), ("2 steerability", "follows the new statement"),
                           ("2 steerability", "moves away from the author (override)"),
                           ("3 replica", "continuation ROUGE-L"), ("3 replica", "DigiDan: real answer picked"),
                           ("4 domination", "boosters per 100 words"), ("4 domination", "judged more authoritative")]:
        chosen = frame[(frame.claim == claim) & (frame.measure == measure)]
        assert len(chosen), (claim, measure)
        assert set(chosen.arm) & arms
        assert (chosen.ci_low <= chosen["mean"] + 1e-9).all() and (chosen["mean"] <= chosen.ci_high + 1e-9).all()
    retrieval = frame[(frame.arm == "retrieval") & (frame.measure == "author feature share")]
    assert len(retrieval) == 1
    folder = report.save(study, results)
    for name in ("measures.csv", "report.json", "report.html", "generations.jsonl", "claim1.png", "claim4.png"):
        assert (folder / name).exists(), name
    records = [json.loads(line) for line in (folder / "generations.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in records} == {"base", "pretraining", "instruction"}
    assert all({"probe", "prompt", "answer", "settings"} <= set(r) for r in records)
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html and "Tiny model" in html
    assert len(report.checklist(frame)) == 12
