"""Claim 4, domination: how authoritative does the model sound, against plain retrieval of her own passages?

- Side by side: each arm's answer to a question and the passages BM25 retrieves from her training documents.
- Hedges and boosters per 100 words relative to her own rate in her essays (`lib.study.authority`: modal
  senses only, generic English word lists), so her idiolect is not counted as authority.
- Support: the share of the answer's word 3-grams found in the retrieved passages (how much of it she
  actually wrote), with the base model's share beside it as the floor that topic words alone reach.
- Optional (`judge: true`): the base model judges which of two answers sounds more authoritative, the arm's
  or her top passage, in both orders; a verdict the parser cannot read is excluded and counted.
Whether a surrogate would find the answers too compelling to override is a question for people: the
questionnaire and the tables are the material for it, not these numbers.
"""

from __future__ import annotations

import math

from ..view import display
from . import authority
from .arms import LABELS
from .measures import MEAN, Measure, claim_figure
from .study import ClaimResult, Study

CLAIM = "4 domination"
JUDGE = ("Two answers to the same question follow. Which one sounds more authoritative? Reply with the single "
         "letter A or B.\n\nQuestion: {question}\n\nAnswer A: {a}\n\nAnswer B: {b}")


def style_measures(study: Study, answers: dict[str, list[str]]) -> list[Measure]:
    baseline = authority.baseline_rates(study.author_train)
    hedges = Measure(CLAIM, "hedges per 100 words, relative to the author's", "question", MEAN,
                     "1 = her own rate; < 1 = hedges less than she does",
                     "word lists count the surface of caution, not its sense; about one hedge per 100 words, so coarse")
    boosters = Measure(CLAIM, "boosters per 100 words, relative to the author's", "question", MEAN,
                       "1 = her own rate; > 1 = asserts more forcefully than she does", hedges.cannot_show)
    length = Measure(CLAIM, "length (words)", "question", MEAN, "longer answers", "", exploratory=True)
    ease = Measure(CLAIM, "readability (Flesch)", "question", MEAN, "higher = easier to read",
                   "a formula of sentence and word length", exploratory=True)
    for arm, texts in answers.items():
        hedges.values[arm] = [authority.relative_rate(authority.hedges_per_100(t), baseline["hedges"]) for t in texts]
        boosters.values[arm] = [authority.relative_rate(authority.boosters_per_100(t), baseline["boosters"])
                                for t in texts]
        length.values[arm] = [float(len(t.split())) for t in texts]
        ease.values[arm] = [authority.flesch_reading_ease(t) for t in texts]
    hedges.reference = boosters.reference = {"her own rate": 1.0}
    for measure, scale in ((hedges, "times her own rate"), (boosters, "times her own rate"), (length, "words")):
        measure.bounds, measure.scale = (0.0, math.inf), scale  # never below 0: no interval reaches there
    return [hedges, boosters, length, ease]


def support_measure(study: Study, answers: dict[str, list[str]], passages: list[list[str]]) -> Measure:
    measure = Measure(CLAIM, "support by the author's passages", "question", MEAN,
                      "higher = more of the answer is in her words; compare with the base model's floor",
                      "shared 3-grams, not shared claims: a paraphrase of her view scores low", bounds=(0.0, 1.0))
    for arm, texts in answers.items():
        if arm != "retrieval":  # retrieval quotes the passages: 1 by construction
            measure.values[arm] = [authority.support(a, p) for a, p in zip(texts, passages)]
    return measure


def judge_measure(study: Study, questions: list[str], answers: dict[str, list[str]]) -> Measure:
    """The base model judges arm vs her top passage in both orders: 1 = the arm sounds more authoritative in
    both, 0.5 = split (position bias), 0 = her passage in both; an unreadable verdict is excluded."""
    measure = Measure(CLAIM, "judged more authoritative than the author's passage", "question", MEAN,
                      "0.5 = no preference; > 0.5 = the arm sounds surer than she does",
                      "one model's impression, not a reader's", bounds=(0.0, 1.0))
    measure.reference = {"no preference": 0.5}
    quotes = answers["retrieval"]
    for arm in [a for a in study.model_arms if a != "base"]:
        pairs = list(zip(questions, answers[arm], quotes))
        first = study.ask("base", [JUDGE.format(question=q, a=a, b=r) for q, a, r in pairs], f"judge_{arm}_first")
        second = study.ask("base", [JUDGE.format(question=q, a=r, b=a) for q, a, r in pairs], f"judge_{arm}_second")
        values, unread = [], 0
        for v1, v2 in zip(first, second):
            c1, c2 = authority.judge_choice(v1), authority.judge_choice(v2)
            if c1 is None or c2 is None:
                values.append(None)
                unread += 1
            else:
                values.append((c1 == "A") * 0.5 + (c2 == "B") * 0.5)
        measure.values[arm] = values
        measure.excluded[arm] = {"verdict not readable": unread}
    return measure


def run(study: Study) -> ClaimResult:
    questions = study.probes["questions"]
    retrieved = [study.retriever.search(q, study.cfg.retrieval_top_k) for q in questions]
    passages = [[p.text for p in found] for found in retrieved]
    answers = {arm: study.plain_answers(arm) for arm in study.model_arms + ["retrieval"]}
    measures = style_measures(study, answers) + [support_measure(study, answers, passages)]
    if study.cfg.judge and "base" in study.model_arms:
        measures.append(judge_measure(study, questions, answers))
    side = []
    for i, question in enumerate(questions):
        entry = {"question": question}
        for arm in study.model_arms:
            entry[LABELS.get(arm, arm)] = display.shorten(answers[arm][i], 500)
        entry["retrieved passages"] = "\n\n".join(f"[{p.document}] {display.shorten(p.text, 300)}" for p in retrieved[i])
        side.append(entry)
    figure = claim_figure(measures, "Claim 4: domination", study.cfg.bootstrap_samples, study.cfg.seed)
    tables = {"Each arm's answer beside her own passages (BM25)": display.html_table(side)}
    return ClaimResult(CLAIM, measures, tables, figure)
