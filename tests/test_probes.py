"""The probe study's measures, each with a case where it must come out high and one where it must be low,
and the whole study on the tiny model."""

import json
import random
import re

import numpy as np
import pytest

from lib.data import cleaning, corpus
from lib.study import (checkers, domination, inextricability, probes, questionnaire, replica, report, stats,
                       steerability, stylometry)
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


def test_bootstrap_intervals():
    rng = np.random.default_rng(0)
    small = stats.bootstrap_mean(rng.normal(1, 1, 10), seed=1)
    large = stats.bootstrap_mean(rng.normal(1, 1, 400), seed=1)
    assert small.low < small.mean < small.high and large.low < large.mean < large.high
    assert (large.high - large.low) < (small.high - small.low)
    assert stats.bootstrap_mean([1, 1, 1]).low == 1 and stats.bootstrap_mean([]).n == 0


# --- the questionnaire --------------------------------------------------------------------------------

def test_questionnaire_round_trip(tmp_path):
    items = [{"id": f"dd-{i}", "question": f"Question {i}?", "real": f"Real answer {i}.",
              "machine": [f"Machine answer {i}.{k}" for k in range(4)]} for i in range(10)]
    page_path, key_path = questionnaire.save(tmp_path, items, seed=3, arm="instruction")
    page = page_path.read_text()
    key = json.loads(key_path.read_text())
    assert "Real answer 0." in page and key["chance"] == pytest.approx(0.2)
    assert "machine-" not in page and "Machine answer 0.0" in page  # sources are hidden, texts are shown
    letters = {v["author"] for v in key["items"].values()}
    assert len(letters) > 1, "the real answer is not always in the same place"
    names = set(re.findall(r'name="(dd-\d+)" value="[A-E]"', page))
    assert names == {f"dd-{i}" for i in range(10)} and "questionnaire_key" not in page
    # a respondent who knows the author gets 8 of 10; one who always answers A gets what A is worth
    expert = {"respondent": "expert", "answers": {i: (v["author"] if n < 8 else "Z")
                                                  for n, (i, v) in enumerate(key["items"].items())}}
    back = tmp_path / "returned"
    back.mkdir()
    (back / "expert.json").write_text(json.dumps(expert))
    (back / "lazy.csv").write_text("respondent,item,choice\n" + "".join(f"lazy,dd-{i},a\n" for i in range(10)))
    responses = questionnaire.read_responses(back / "expert.json") + questionnaire.read_responses(back / "lazy.csv")
    result = questionnaire.score(key, responses)
    assert questionnaire.score_path(key_path, back) == result  # a folder of returned files
    assert result["respondents"]["expert"] == 0.8
    assert result["respondents"]["lazy"] == sum(v["author"] == "A" for v in key["items"].values()) / 10
    assert result["answers"] == 20 and 0 < result["overall"]["ci_low"] <= result["overall"]["mean"]
    with pytest.raises(ValueError, match="unknown item"):
        questionnaire.score(key, [{"respondent": "x", "answers": {"nope": "A"}}])


def test_probe_files_are_checked_line_by_line(tmp_path):
    for name in probes.PROBE_FILES.values():
        (tmp_path / name).write_text((ROOT / "data/probes" / name).read_text())
    assert len(probes.read_probes(tmp_path)["author_answers"]) >= 10
    (tmp_path / "override.jsonl").write_text('{"id": "x", "question": "q?"}\n')
    with pytest.raises(probes.ProbeError, match=r"override\.jsonl: line 1 lacks instruction"):
        probes.read_probes(tmp_path)
