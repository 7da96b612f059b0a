"""The probe study's smaller instruments: retrieval, intervals, the questionnaire, the probe files."""

import json
import re

import numpy as np
import pytest

from lib.data import cleaning, corpus
from lib.study import probes, questionnaire, stats
from lib.study.retrieval import Retriever
from tests.conftest import ROOT, SAMPLE


@pytest.fixture(scope="module")
def sample_docs():
    return cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]


# --- retrieval and intervals ------------------------------------------------------------------------

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
