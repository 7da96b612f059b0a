"""Claim 3, replica: does the model speak in the author's voice, and which training stage makes it so?

- Completion probes from held-out author documents: each arm continues the opening (raw text, no chat
  format); the continuation is compared with what the author really wrote next (ROUGE-L, rouge-score),
  scored by the authorship measure, and its first-person rate is compared with the author's.
- DigiDan-style test (Schwitzgebel et al. 2024): for each question in `author_answers.jsonl` (the author's
  real answers, never trained on), `digidan_samples` answers from an arm cut to about the real answer's
  length; the authorship measure picks one of the five. Chance is 1 in (samples + 1). The lower the pick
  rate of the real answer, the better the arm imitates the author (for this measure).
- The blinded questionnaire for people (`lib.questionnaire`) uses the same items.
"""

from __future__ import annotations

import dataclasses
import re

from rouge_score import rouge_scorer

from .. import display, plots
from .study import ClaimResult, Study, strip_eos

CLAIM = "3 replica"
FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|myself)\b", re.I)


def first_person_rate(text: str) -> float:
    """First-person singular pronouns per 100 words."""
    n = len(text.split())
    return 100 * len(FIRST_PERSON.findall(text)) / n if n else 0.0


def cut_words(text: str, n: int) -> str:
    """About `n` words, ending at a sentence end when one falls in the last fifth."""
    tokens = text.split()
    if len(tokens) <= n:
        return text.strip()
    cut = " ".join(tokens[:n])
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "), cut.rfind(".\n"))
    return cut[: end + 1] if end > len(cut) * 0.8 else cut


def completion_probes(study: Study, opening_words: int = 60, continuation_words: int = 80,
                      limit: int = 12) -> list[dict]:
    """Openings and true continuations from the held-out documents (chunks rejoined per document)."""
    eos = study.arms.tokenizer.eos_token
    documents: dict[str, list[str]] = {}
    for row in study.val_chunks:
        documents.setdefault(row["document"], []).append(strip_eos(row["text"], eos))
    probes = []
    span = opening_words + continuation_words
    for name, parts in documents.items():
        tokens = " ".join(parts).split()
        for start in range(0, len(tokens) - span + 1, span):
            probes.append({"id": f"{name}@{start}", "opening": " ".join(tokens[start:start + opening_words]),
                           "truth": " ".join(tokens[start + opening_words:start + span])})
    return probes[:limit]


def digidan_items(study: Study, arm: str) -> list[dict]:
    """Each real answer with `digidan_samples` machine answers of about its length."""
    items = study.probes["author_answers"]
    questions = [p["question"] for p in items]
    samples = []
    for k in range(study.cfg.digidan_samples):
        settings = dataclasses.replace(study.sampling, seed=study.cfg.seed + k)
        samples.append(study.ask(arm, questions, f"digidan_{k}", [p["id"] for p in items], settings=settings))
    return [{"id": p["id"], "question": p["question"], "real": p["answer"],
             "machine": [cut_words(s[i], len(p["answer"].split())) for s in samples]}
            for i, p in enumerate(items)]


def run(study: Study) -> ClaimResult:
    rows, examples = [], []
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    probes = completion_probes(study)
    truth = [p["truth"] for p in probes]
    if probes:
        real_scores = study.authorship.score(truth)
        rows.append(study.row(CLAIM, "continuation P(author)", "author (real)",
                              [s.classifier_probability for s in real_scores]))
        rows.append(study.row(CLAIM, "first-person rate", "author (real)", [first_person_rate(t) for t in truth]))
    for arm in study.model_arms + ["retrieval"]:
        if not probes:
            break
        if arm == "retrieval":
            raw = [study.retriever.answer(p["opening"]) for p in probes]
        else:
            raw = study.ask(arm, [p["opening"] for p in probes], "completion", [p["id"] for p in probes], chat=False)
        continuations = [cut_words(r, len(p["truth"].split())) for r, p in zip(raw, probes)]
        rouge = [scorer.score(p["truth"], c)["rougeL"].fmeasure for p, c in zip(probes, continuations)]
        rows.append(study.row(CLAIM, "continuation ROUGE-L", arm, rouge))
        rows.append(study.row(CLAIM, "continuation P(author)", arm,
                              [s.classifier_probability for s in study.authorship.score(continuations)]))
        rows.append(study.row(CLAIM, "first-person rate", arm, [first_person_rate(c) for c in continuations],
                              "first-person singular pronouns per 100 words"))
        examples.append({"arm": arm, "opening": probes[0]["opening"], "continuation": continuations[0],
                         "the author's": probes[0]["truth"]})

    chance = 1 / (study.cfg.digidan_samples + 1)
    picks_table = []
    for arm in study.model_arms:
        items = digidan_items(study, arm)
        picked = [float(study.authorship.pick_author([item["real"]] + item["machine"]) == 0) for item in items]
        rows.append(study.row(CLAIM, "DigiDan: real answer picked", arm, picked,
                              f"chance {chance:.0%}; lower = the arm passes for the author more often"))
        picks_table.append({"arm": arm, "real answer picked": f"{sum(picked)}/{len(picked)}"})
    tables = {
        "Continuations of a held-out opening": display.html_table(
            [{k: display.shorten(v, 500) for k, v in e.items()} for e in examples]),
        f"DigiDan test: the authorship measure picks the author's real answer among {study.cfg.digidan_samples + 1}":
            display.html_table(picks_table),
    }
    figure = plots.measure_panels(rows, ["continuation ROUGE-L", "continuation P(author)", "first-person rate",
                                         "DigiDan: real answer picked"], "Claim 3: replica",
                                  reference={"DigiDan: real answer picked": chance})
    return ClaimResult(CLAIM, rows, tables, figure)
