import json
import re

import pytest

from lib.data import cleaning, corpus, pairs
from lib.data.pairs import PairsError
from lib.llm import generation
from tests.conftest import SAMPLE, make_cfg


@pytest.fixture(scope="module")
def docs():
    return cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]


def test_template_pairs_answer_with_the_authors_own_passages(docs, tiny_tokenizer):
    built = pairs.template_pairs(docs, tiny_tokenizer, per_document=3, answer_tokens=120, seed=1)
    by_doc = {}
    for p in built:
        by_doc.setdefault(p["document"], []).append(p)
        text = next(d.text for d in docs if d.name == p["document"])
        assert p["answer"] in text  # verbatim
        assert p["question"].endswith("?") and p["source"] == "template"
        assert len(tiny_tokenizer(p["answer"], add_special_tokens=False)["input_ids"]) <= 120
    assert set(by_doc) == {d.name for d in docs}
    assert all(len(v) == 3 for v in by_doc.values())
    assert all(len({p["question"] for p in v}) == 3 for v in by_doc.values())
    assert built[0]["question"] == 'What do you argue in "The Narrative Self at the Bedside"?'
    assert any("narrative self" in p["question"] for p in built)
    assert built == pairs.template_pairs(docs, tiny_tokenizer, per_document=3, answer_tokens=120, seed=1)


def test_distinctive_terms_are_noun_phrases_that_recur():
    texts = ["The narrative self matters. My patient had a narrative self.", "A narrative self and the ledger.",
             "The ledger of reasons, the checklist.", "The checklist fails the patient. A checklist."]
    terms = pairs.distinctive_terms(texts)
    assert terms[0][0] == "narrative self"
    assert "checklist" in terms[3] and "fails" not in sum(terms, [])


def test_researcher_file_jsonl_and_csv(docs, tmp_path):
    lines = [{"question": "Is a prediction an endorsement?", "answer": "No. A prediction is not an endorsement.",
              "document": "the_preference_predictor.txt"},
             {"question": "What grounds moral standing?",
              "answer": "Consciousness, the capacity for experience, not rational capacity, grounds moral standing."}]
    jsonl = tmp_path / "qa.jsonl"
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = pairs.researcher_pairs(jsonl, docs)
    assert [p["document"] for p in out][0] == "the_preference_predictor.txt"
    assert out[0]["assigned"] == "file" and out[1]["assigned"] == "similarity"
    assert out[1]["document"] in {"the_capacity_for_experience.txt", "what_reason_cannot_ground.txt",
                                  "minds_at_the_margins.txt"}
    csv_path = tmp_path / "qa.csv"
    csv_path.write_text('question,answer,document\n"Q one?","An answer, with a comma.",narrative_self.txt\n')
    assert pairs.researcher_pairs(csv_path, docs)[0]["answer"] == "An answer, with a comma."


@pytest.mark.parametrize("content, message", [
    ('{"question": "q?", "answer": "a"}\nnot json\n', r"qa\.jsonl: line 2 is not valid JSON"),
    ('{"question": "q?"}\n', r"qa\.jsonl: line 1 needs a non-empty 'question' and 'answer'"),
    ('{"question": "q?", "answer": "a", "document": "ghost.txt"}\n', r"names document 'ghost.txt'"),
    ("", r"no question-answer pairs"),
])
def test_researcher_file_errors_name_the_file_and_line(docs, tmp_path, content, message):
    path = tmp_path / "qa.jsonl"
    path.write_text(content)
    with pytest.raises(PairsError, match=message):
        pairs.researcher_pairs(path, docs)


def test_curation_keeps_questions_and_drops_giveaways():
    answer = "A prediction is not an endorsement, and a statistical model of people like you erases the person."
    assert pairs.curation_problem("Why do you distrust preference predictors for patients?", answer) is None
    assert pairs.curation_problem("The passage is about predictors.", answer) == "not a question"
    assert pairs.curation_problem("Why?", answer) == "not a question"
    assert pairs.curation_problem("Is a statistical model of people like you erasing the person?", answer) in (
        "copies the answer", "gives the answer away")
    assert pairs.curation_problem("Why is a prediction not an endorsement, and a statistical model?", answer) \
        == "copies the answer"


def test_backtranslation_with_hand_written_questions(docs, tiny_tokenizer):
    replies = iter(["What do you think families owe a patient?", "Here is the question", "  \"Why read a life?\"  "])
    kept, dropped = pairs.backtranslated_pairs(docs[:1], tiny_tokenizer, lambda ps: [next(replies) for _ in ps],
                                               per_document=3, answer_tokens=120, curate=True)
    assert [p["question"] for p in kept] == ["What do you think families owe a patient?", "Why read a life?"]
    assert [d["reason"] for d in dropped] == ["not a question"]


def test_backtranslation_runs_the_real_model(docs, tiny_tokenizer, tmp_path):
    cfg = make_cfg(tmp_path)
    generate = generation.generator(cfg, generation.GenerationSettings(max_new_tokens=8, min_new_tokens=4))
    kept, dropped = pairs.backtranslated_pairs(docs[:2], tiny_tokenizer, generate, per_document=2,
                                               answer_tokens=120, curate=False)
    assert len(kept) + len(dropped) == 4 and all(p["question"] for p in kept)
    assert all(d["reason"] == "empty" for d in dropped)  # without curation only empty generations go
    kept, dropped = pairs.backtranslated_pairs(docs[:2], tiny_tokenizer, generate, per_document=2,
                                               answer_tokens=120, curate=True)
    assert len(kept) + len(dropped) == 4 and all(d["reason"] for d in dropped)  # random weights: mostly dropped


def test_merge_removes_repeats_and_prefers_the_researchers_pair(docs):
    doc = docs[0]
    a = pairs.pair("What is the narrative self?", "A story of values.", doc, "template")
    b = pairs.pair("what is the Narrative Self", "A story of values!", doc, "researcher")
    c = pairs.pair("Another question?", "Another answer.", doc, "template")
    merged = pairs.merge([a, c], [b])
    assert [p["source"] for p in merged] == ["researcher", "template"]


def test_chat_rows_use_the_prompt_completion_format(docs):
    row = pairs.to_chat(pairs.pair("Q?", "A.", docs[0], "template"), system_prompt="Be brief.")
    assert row["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]
    assert row["completion"] == [{"role": "assistant", "content": "A."}]


@pytest.mark.parametrize("line, message", [
    ('{"question": "Why \\ud83d?", "answer": "Because."}', r"line 1: the 'question' holds a lone surrogate \(\\ud83d"),
    ('{"question": "Why?", "answer": "Be\\u0000cause."}', r"line 1: the 'answer' holds the control character U\+0000"),
])
def test_text_no_training_file_can_hold_is_named_with_its_file_and_line(docs, tmp_path, line, message):
    path = tmp_path / "qa.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(PairsError, match=rf"^{re.escape(str(path))}: {message}"):
        pairs.researcher_pairs(path, docs)


def old_counts(term, texts):
    """The definition `article_counts` must agree with: each term's own `re.finditer` over every text."""
    pattern = re.compile(rf"\b{re.escape(term)}\b", re.I)
    after = total = 0
    for text in texts:
        for m in pattern.finditer(text):
            total += 1
            before = text[max(0, m.start() - 12): m.start()].lower().split()
            after += bool(before) and before[-1] in pairs.DETERMINERS
    return after, total


def test_with_articles_in_one_pass_agrees_with_each_terms_own_search(docs):
    """The one-pass index must find exactly what the per-term regex finds: case folded as re.I does (the long
    s, the Kelvin sign, dotted and dotless i), hyphens and apostrophes in terms, runs of a term that overlap,
    words that merely contain the term, a long word or spaces in the 12 characters before it."""
    texts = [d.text for d in docs] + [
        "The self-evident truth. A self. The Self of selves, my self-love, their selfhood, the SELF.",
        "The \u017felf, the \u212aing, a king, the \u0130dea, an \u0131dea, the idea, ideas.",
        "x-x-x-x and the x-x, a x-x-x; the don't and don'ts, a don't.",
        "Supercalifragilistic egg, the          egg, an egg, eggs, egg2, _egg_, the egg.",
    ]
    terms = {"self", "self-evident", "king", "idea", "x-x", "don't", "egg", "narrative self", "surrogate",
             "checklist", "narrative", "the", "patient"}
    expected = {t: old_counts(t, texts) for t in terms}
    assert pairs.article_counts(terms, texts) == expected
    assert pairs.with_articles(terms, texts) == {t: f"the {t}" if n and a / n >= 0.6 else t
                                                 for t, (a, n) in expected.items()}
    assert pairs.with_article("egg", texts) == "egg" and pairs.with_article("patient", texts) == "the patient"


def test_the_case_folding_covers_every_character_re_ignorecase_matches_to_a_to_z():
    import sys

    folded = [chr(c) for c in range(128, sys.maxunicode + 1) if re.fullmatch("[a-z]", chr(c), re.I)]
    assert all(c.translate(pairs.FOLD).lower() in "abcdefghijklmnopqrstuvwxyz" for c in folded), folded


def test_a_question_file_in_utf16_is_read_with_its_mark_and_named_without(docs, tmp_path):
    line = '{"question": "Is a prediction an endorsement?", "answer": "No, it is not.", ' \
           '"document": "the_preference_predictor.txt"}\r\n'
    path = tmp_path / "qa.jsonl"
    path.write_bytes(line.encode("utf-16"))  # a Windows editor's "Unicode"
    assert pairs.researcher_pairs(path, docs)[0]["answer"] == "No, it is not."
    path.write_bytes(line.encode("utf-16-le"))
    with pytest.raises(PairsError, match=rf"^{re.escape(str(path))}: UTF-16 text without a byte-order mark"):
        pairs.researcher_pairs(path, docs)
