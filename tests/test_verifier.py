"""The two-author verifier on texts of known origin: PAN's figures computed as PAN defines them, a pair of
different writers told apart and its quality reported with intervals, one writer split in two NOT told apart
(its quality bar must fail), and claim 3's contrasts named as the project names them."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lib.study import measures, verifier, voice
from lib.study.oracle_sources import sections, writer_documents
from tests.conftest import ROOT, SAMPLE

WORDS = 60


def test_c_at_1_counts_an_answer_of_one_half_as_unanswered():
    labels = np.array([1, 0, 1, 0])
    assert verifier.c_at_1(np.array([0.9, 0.1, 0.2, 0.7]), labels) == 0.5            # plain accuracy
    # 2 right of 3 answered, 1 unanswered: (2 + 1 * 2 / 4) / 4 (Penas and Rodrigo 2011)
    assert verifier.c_at_1(np.array([0.9, 0.1, 0.5, 0.7]), labels) == pytest.approx(0.625)
    assert verifier.c_at_1(np.array([0.5] * 4), labels) == 0.0


def test_auc_is_the_mann_whitney_statistic():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = labels + rng.normal(0, 1, 200).round(1)   # ties included
    assert verifier.auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def halves(docs: dict[str, str]) -> tuple[dict, dict]:
    names = sorted(docs)
    return {n: docs[n] for n in names[: len(names) // 2]}, {n: docs[n] for n in names[len(names) // 2:]}


def fitted(author: dict[str, str], control: dict[str, str]) -> verifier.Verifier:
    a_train, a_held = halves(author)
    c_train, c_held = halves(control)
    v = verifier.Verifier(words=WORDS).fit(list(a_train.values()), list(c_train.values()))
    v.calibrate({n: [t] for n, t in a_held.items()}, {n: [t] for n, t in c_held.items()}, resamples=300)
    return v


@pytest.fixture(scope="module")
def sample_docs():
    return writer_documents(SAMPLE)


def test_two_writers_are_told_apart_and_the_quality_says_so_with_intervals(sample_docs):
    reference = (ROOT / "data/sample/general_reference.txt").read_text(encoding="utf-8")
    other = {f"reference#{i}": t for i, t in enumerate(sections(reference, 150))}
    v = fitted(sample_docs, other)
    q = v.quality
    assert q.fit and q.auc.mean >= 0.95 and q.c_at_1.mean >= 0.9 and q.brier.mean <= 0.1, q.as_dict()
    assert q.documents == {"author": 6, "control": len(other) - len(other) // 2}
    for figure in (q.auc, q.c_at_1, q.brier, q.sensitivity, q.specificity):
        assert figure.low <= figure.mean <= figure.high and "resampled within each author" in figure.method
    held = [t for n, t in sorted(sample_docs.items())[6:]]
    p = v.probability(held + ["Too short to judge."])
    assert p[-1] is None and all(0 < x < 1 for x in p[:-1]) and np.mean(p[:-1]) > 0.8
    assert v.hers(["Too short."]) == [None]
    first, second = held[0], list(other.values())[-1]
    assert v.above([([first], [second]), ([second], [first]), ([], [first])]) == [1.0, 0.0, None]


def test_one_writer_split_in_two_is_not_told_apart_and_fails_its_quality_bar(sample_docs):
    names = sorted(sample_docs)
    v = fitted({n: sample_docs[n] for n in names[0::2]}, {n: sample_docs[n] for n in names[1::2]})
    assert not v.quality.fit, v.quality.as_dict()
    assert v.quality.auc.low < 0.8, "the same writer on both sides: no better than a coin, within its interval"


def test_too_little_text_is_a_reason_not_a_number():
    v = verifier.Verifier(words=WORDS).fit(["one two three"], ["four five six"])
    q = v.calibrate({"a": ["x"]}, {"b": ["y"]})
    assert not v.fitted and not q.fit and "at least 2 windows" in q.reason
    assert v.probability(["word " * 100]) == [None]


def test_claim_3_contrasts_are_named_as_the_project_names_them():
    assert voice.primary_contrasts() == [
        "answers called hers, not the control's: stage 1 + 2 - control stage 1 + 2",
        "continuations called hers, not the control's: stage 1 + 2 - control stage 1 + 2",
        "answers called hers, not the control's: stage 1 + 2 - stage 1",
        "continuations called hers, not the control's: stage 1 + 2 - stage 1"]
    m = measures.Measure(voice.CLAIM, voice.ANSWERS, "question", measures.PROPORTION, "", "", pairs=voice.PAIRS,
                         bounds=(0.0, 1.0))
    m.values = {"base": [0.0] * 10, "pretraining": [0.0, 1.0] * 5, "instruction": [1.0] * 10,
                "control_instruction": [0.0] * 9 + [1.0]}
    rows = {r["contrast"]: r for r in measures.contrast_rows(m, 500, 0)}
    assert set(voice.primary_contrasts()[::2]) <= set(rows), "the measure's own pairs, not only the standard ones"
    assert rows[voice.primary_contrasts()[0]]["mean"] == pytest.approx(0.9)
    assert "answers called hers, not the control's: stage 1 - base" in rows


@pytest.mark.slow
def test_the_voice_measures_run_on_real_arms_beside_a_control_authors_text(tiny_run, tmp_path):
    """Plumbing on the tiny model: its arms continue the control's openings too, the verifier judges them, and
    with no control arm trained the primaries are named as not computed (the tiny model's values mean nothing)."""
    from lib.data import processed
    from lib.study import arms, probes, replica
    from lib.study import study as study_mod

    reference = (ROOT / "data/sample/general_reference.txt").read_text(encoding="utf-8")
    control = [{"text": t, "document": f"reference#{i}"} for i, t in enumerate(sections(reference, 150))]
    with tiny_run.outputs():
        cfg = tiny_run.cfg.replace(probe_max_new_tokens=64, authorship_words=40, bootstrap_samples=200,
                                   digidan_samples=2, digidan_items=3, completion_probes=3, generic_from_base=False)
        train, val, _ = processed.load_split(cfg, "pretraining")
        moved = sorted({r["document"] for r in train})[:2]  # at least 2 held-out documents to calibrate on
        train, val = [r for r in train if r["document"] not in moved], val + [r for r in train if r["document"] in moved]
        found = probes.read_probes(ROOT / "data" / "probes")
        found["questions"] = found["questions"][:4]
        model = arms.Arms(cfg)
        study = study_mod.build(cfg, model, tmp_path, found, train, val, {}, {}, model.tokenizer.eos_token,
                                control_rows=(control[::2], control[1::2]))
        result = replica.run(study)
    assert study.verifier.fitted and study.probes["control_completions"]
    found = {m.name: m for m in result.measures}
    assert set(found[voice.CONTINUATIONS].values) == {"base", "pretraining", "instruction"}
    assert len(found[voice.CONTINUATIONS].values["base"]) == len(study.probes["completions"]) + len(
        study.probes["control_completions"])
    assert any(r["probe"] == "control_completion" and not r["chat"] for r in model.records)
    assert [n.split(": not computed")[0] for n in result.notes] == voice.primary_contrasts()[:2]
    assert all("no arm control stage 1 + 2 (control_instruction)" in n for n in result.notes)
    rows = [r["contrast"] for m in result.measures for r in measures.contrast_rows(m, 200, 0)]
    assert not set(voice.primary_contrasts()[:2]) & set(rows), "no control arm trained: no such contrast"
