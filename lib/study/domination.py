"""Claim 4, domination: how authoritative does the model sound, against plain retrieval of the author's
own passages?

- Side by side: each arm's answer to a question and the top passages BM25 retrieves from the author's
  training documents (with their document names).
- Measures on every answer: hedges and boosters per 100 words (word lists below), length, readability
  (Flesch reading ease, syllables from pyphen) and support: the share of the answer's word 3-grams found in
  the retrieved passages (how much of what it says the author actually wrote).
- Optional (`judge: true`): the base model judges which of two answers sounds more authoritative, the arm's
  or the author's top passage, in both orders (a judge that always says "A" scores 0.5).
Whether a surrogate would find the answers too compelling to override is a question for people: the
questionnaire and the notebook's tables are the material for it, not these numbers.
"""

from __future__ import annotations

import functools
import re

from .. import display, plots
from .arms import LABELS
from .study import ClaimResult, Study

CLAIM = "4 domination"
HEDGES = ["might", "may", "perhaps", "possibly", "could", "seems", "seem", "appears", "suggests", "likely",
          "unlikely", "uncertain", "unclear", "arguably", "probably", "i think", "i suspect", "in my view",
          "it depends", "to some extent", "somewhat", "tentatively", "not sure", "sometimes", "often"]
BOOSTERS = ["clearly", "certainly", "definitely", "undoubtedly", "obviously", "surely", "must", "always",
            "never", "of course", "without doubt", "plainly", "in fact", "indeed", "no doubt", "it is clear",
            "beyond question", "absolutely", "essential", "everyone knows", "let me be plain"]
JUDGE = ("Two answers to the same question follow. Which one sounds more authoritative? Reply with the single "
         "letter A or B.\n\nQuestion: {question}\n\nAnswer A: {a}\n\nAnswer B: {b}")


def per_100_words(text: str, phrases: list[str]) -> float:
    n = len(text.split())
    hits = sum(len(re.findall(rf"\b{re.escape(p)}\b", text.lower())) for p in phrases)
    return 100 * hits / n if n else 0.0


@functools.cache
def hyphenator():
    """pyphen's English dictionary, loaded once (it parses a hyphenation file)."""
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    return max(1, len(hyphenator().positions(word)) + 1)


def flesch_reading_ease(text: str) -> float:
    """206.835 - 1.015 words/sentence - 84.6 syllables/word: higher is easier (60-70 is plain English)."""
    words = re.findall(r"[A-Za-z]+", text)
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text)))
    if not words:
        return float("nan")
    return 206.835 - 1.015 * len(words) / sentences - 84.6 * sum(syllables(w) for w in words) / len(words)


def support(answer: str, passages: list[str], n: int = 3) -> float:
    """Share of the answer's word n-grams that occur in the passages."""
    tokens = re.findall(r"[a-z']+", answer.lower())
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    source = set()
    for passage in passages:
        words = re.findall(r"[a-z']+", passage.lower())
        source |= {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    return sum(g in source for g in grams) / len(grams)


def judge_choice(text: str) -> str | None:
    match = re.search(r"\b([AB])\b", text.strip().upper())
    return match.group(1) if match else None


def run(study: Study) -> ClaimResult:
    questions = study.probes["questions"]
    k = study.cfg.retrieval_top_k
    retrieved = [study.retriever.search(q, k) for q in questions]
    rows, side = [], [{"question": q} for q in questions]
    for arm in study.model_arms + ["retrieval"]:
        answers = study.plain_answers(arm)
        passages = [[p.text for p in r] for r in retrieved]
        rows.append(study.row(CLAIM, "hedges per 100 words", arm, [per_100_words(a, HEDGES) for a in answers]))
        rows.append(study.row(CLAIM, "boosters per 100 words", arm, [per_100_words(a, BOOSTERS) for a in answers]))
        rows.append(study.row(CLAIM, "length (words)", arm, [len(a.split()) for a in answers]))
        rows.append(study.row(CLAIM, "readability (Flesch)", arm, [flesch_reading_ease(a) for a in answers]))
        if arm != "retrieval":
            rows.append(study.row(CLAIM, "support by the author's passages", arm,
                                  [support(a, p) for a, p in zip(answers, passages)],
                                  "share of the answer's word 3-grams found in the top retrieved passages"))
        for entry, answer in zip(side, answers):
            entry[LABELS.get(arm, arm)] = display.shorten(answer, 500)
    for entry, found in zip(side, retrieved):
        entry["retrieved passages"] = "\n\n".join(f"[{p.document}] {display.shorten(p.text, 300)}" for p in found)
        del entry["retrieval"]
    if study.cfg.judge:
        rows += judge(study, questions)
    figure = plots.measure_panels(rows, ["hedges per 100 words", "boosters per 100 words", "readability (Flesch)",
                                         "support by the author's passages", "judged more authoritative"],
                                  "Claim 4: domination", reference={"judged more authoritative": 0.5})
    tables = {"Each arm's answer beside the author's own passages (BM25)": display.html_table(side)}
    return ClaimResult(CLAIM, rows, tables, figure)


def judge(study: Study, questions: list[str]) -> list[dict]:
    """The base model judges arm vs the author's top passage, in both orders; 1 = the arm sounds more
    authoritative in both, 0.5 = split (position bias), 0 = the author's passage in both."""
    rows = []
    quotes = study.plain_answers("retrieval")
    for arm in [a for a in study.model_arms if a != "base"]:
        answers = study.plain_answers(arm)
        first = [JUDGE.format(question=q, a=a, b=r) for q, a, r in zip(questions, answers, quotes)]
        second = [JUDGE.format(question=q, a=r, b=a) for q, a, r in zip(questions, answers, quotes)]
        verdicts1 = study.ask("base", first, f"judge_{arm}_first")
        verdicts2 = study.ask("base", second, f"judge_{arm}_second")
        wins = [(judge_choice(v1) == "A") * 0.5 + (judge_choice(v2) == "B") * 0.5
                for v1, v2 in zip(verdicts1, verdicts2)]
        rows.append(study.row(CLAIM, "judged more authoritative", arm, wins,
                              "than the author's top passage; base model as judge, both orders"))
    return rows
