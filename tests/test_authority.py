"""Claim 4's per-answer instruments on texts whose right answer is known: hedges and boosters in their modal
senses only and without the author's idiolect, rates relative to her own baseline, readability, support, and
the judge's verdict parser against a labelled set of free-text verdicts."""

import json
import math

import pytest

from lib.data import cleaning, corpus
from lib.study import authority
from tests.conftest import ROOT, SAMPLE


@pytest.fixture(scope="module")
def author_docs():
    return [d.text for d in cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]]


# --- hedges and boosters ----------------------------------------------------------------------------------

def test_hedges_and_boosters():   # moved from test_probes.py, assertions kept
    hedgy = "Perhaps it might be so; it seems likely, but I think it is unclear."
    firm = "Clearly it is so. It must be done, and it is certainly right; of course it is."
    assert authority.hedges_per_100(hedgy) > 20 > authority.hedges_per_100(firm)
    assert authority.boosters_per_100(firm) > 20 > authority.boosters_per_100(hedgy)


@pytest.mark.parametrize("text, hedges, boosters", [
    ("In May the family met again.", 0, 0),                         # the month
    ("By early May she had stopped eating. It was May 12.", 0, 0),
    ("Theresa May spoke to the ward.", 0, 0),                       # a name
    ("May was a hard month for her.", 0, 0),                        # the month opening a sentence
    ("May I ask what she would have wanted?", 1, 0),               # the modal opening a question
    ("It may be that she would have refused.", 1, 0),
    ("in may the family met. it may rain.", 1, 0),                  # a lowercase answer
    ("You may object that letters are vague.", 0, 0),              # a debating formula, not a hedge
    ("She fought with all her might.", 0, 0),                       # the noun
    ("The might of the institution is no argument.", 0, 0),
    ("She might have chosen otherwise.", 1, 0),
    ("A values letter is a must.", 0, 0),                            # the noun
    ("The family must be heard.", 0, 1),
    ("It could be otherwise.", 1, 0),
    ("She could not recognise her children.", 0, 0),               # not a hedge: inability
    ("It is not always so, and I am not sure.", 2, 0),            # negated booster and "not sure" hedge
    ("It is clearly so, and it is not clearly wrong.", 1, 1),
    ("Of course it is, in fact, certain.", 0, 2),
    ("Let me be plain. To my mind, I want to say this.", 0, 0),     # the sample author's idiolect
    ("Surely not. Indeed, I think so.", 1, 2),                       # generic English counts
])
def test_modal_senses_and_negation(text, hedges, boosters):
    assert (authority.hedges(text), authority.boosters(text)) == (hedges, boosters)


def test_the_lists_hold_generic_english_and_none_of_the_authors_signature_phrases(author_docs):
    phrases = authority.HEDGE_PHRASES + authority.BOOSTER_PHRASES
    words = authority.HEDGE_WORDS | authority.BOOSTER_WORDS
    signatures = ("let me be plain", "to my mind", "i want to say", "in my years on the wards", "ledger of reasons")
    for signature in signatures:
        assert signature not in phrases and not set(signature.split()) <= words
    text = " ".join(author_docs).lower()
    assert text.count("let me be plain") >= 5                      # her habit, which the old list counted


def test_rates_relative_to_the_authors_own_baseline(author_docs):
    base = authority.baseline_rates(author_docs)
    assert base["words"] > 8000 and len(base["hedges_by_document"]) == len(author_docs)
    assert 0.5 < base["hedges"] < 3 and 0.2 < base["boosters"] < 2
    # her own text is 1.0 by construction; pooled means it is her words, not her documents, that count
    whole = " ".join(author_docs)
    assert authority.relative_rate(authority.hedges_per_100(whole), base["hedges"]) == pytest.approx(1.0, rel=0.02)
    # a hedging answer is far above her rate, an answer in her own plain manner is not
    hedgy = ("Perhaps the family might decide, though it seems unclear; possibly a surrogate could help, and it "
             "may depend on the case. I think it is somewhat uncertain.")
    assert authority.relative_rate(authority.hedges_per_100(hedgy), base["hedges"]) > 10
    mrs_d = author_docs[0][:1500]
    assert 0.3 < authority.relative_rate(authority.hedges_per_100(mrs_d), base["hedges"]) < 3
    assert math.isnan(authority.relative_rate(1.0, 0.0))
    with pytest.raises(ValueError, match="no words"):
        authority.baseline_rates(["", "  "])


# --- readability and support (moved from test_probes.py) ----------------------------------------------------

def test_readability_and_support():
    easy = "The cat sat. The dog ran. We had fun."
    hard = ("Notwithstanding considerable epistemological indeterminacy, institutional deliberation "
            "presupposes unquestionably sophisticated interpretative responsibilities.")
    assert authority.flesch_reading_ease(easy) > 80 > 0 > authority.flesch_reading_ease(hard)
    passages = ["A person is not a bundle of preferences sampled at intervals."]
    assert authority.support("A person is not a bundle of preferences.", passages) == 1.0
    assert authority.support("Tides rise twice daily along coasts.", passages) == 0.0
    assert math.isnan(authority.flesch_reading_ease("123 456"))
    # "Dr." does not end a sentence: the same text reads the same with or without the title
    assert authority.flesch_reading_ease("Dr. Vane sat. She ran.") == pytest.approx(
        authority.flesch_reading_ease("Vane Vane sat. She ran."), abs=1e-9)


# --- the judge's verdict ------------------------------------------------------------------------------------

def test_judge_answers_are_parsed():   # moved from test_probes.py, assertions kept
    assert authority.judge_choice("B") == "B" and authority.judge_choice("Answer A sounds surer.") == "A"
    assert authority.judge_choice("Neither.") is None


def verdicts() -> list[dict]:
    path = ROOT / "tests/fixtures/judge_verdicts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_judge_parser_reads_labelled_free_text_verdicts():
    items = verdicts()
    labels = [i["label"] for i in items]
    assert len(items) >= 60 and labels.count("A") >= 15 and labels.count("B") >= 15 and labels.count(None) >= 15
    assert sum("article" in i["note"] for i in items) >= 8           # the trap the old parser fell into
    got = [authority.judge_choice(i["text"]) for i in items]
    correct = sum(g == i["label"] for g, i in zip(got, items))
    wrong_letter = [i["text"] for g, i in zip(got, items) if g is not None and g != i["label"]]
    assert correct / len(items) >= 0.95, f"{correct}/{len(items)}"
    assert wrong_letter == []                  # a verdict it cannot read is None (counted apart), never a guess


def test_the_old_parser_would_have_failed_the_traps():
    """The old parser (first standalone A or B) read the article as the letter: the fixture can fail."""
    import re

    def old(text):
        match = re.search(r"\b([AB])\b", text.strip().upper())
        return match.group(1) if match else None
    items = verdicts()
    assert sum(old(i["text"]) != i["label"] for i in items) >= 20
    assert sum(authority.judge_choice(i["text"]) != i["label"] for i in items) <= len(items) * 0.05
