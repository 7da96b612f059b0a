"""Claim 2, steerability: can the tuned model be steered by what it is told at inference time?

- Verifiable instructions (`instructions.jsonl`): each answer is checked by code (`lib.checkers`);
  compliance per arm, overall and per kind.
- New context (`new_context.jsonl`): the prompt carries a new statement by the author that contradicts a
  position in the corpus; the probe's markers say whether the answer follows the new statement, the corpus
  position, or neither.
- Override (`override.jsonl`): an explicit instruction to answer in another voice; the authorship measure
  says how far each arm moves away from the author (P(author) without the instruction minus with it).
"""

from __future__ import annotations

import re

import pandas as pd

from .. import display, plots
from . import checkers
from .arms import LABELS
from .study import ClaimResult, Study

CLAIM = "2 steerability"
CONTEXT = 'Here is something I wrote recently:\n"{statement}"\n\n{question}'


def stance(answer: str, new_markers: list[str], corpus_markers: list[str]) -> str:
    """"new", "corpus" or "neither", by which probe markers the answer uses more."""
    text = answer.lower()
    count = lambda markers: sum(len(re.findall(rf"\b{re.escape(m.lower())}\b", text)) for m in markers)  # noqa
    new, old = count(new_markers), count(corpus_markers)
    return "new" if new > old else "corpus" if old > new else "neither"


def run(study: Study) -> ClaimResult:
    rows, compliance, examples = [], {}, []
    instructions = study.probes["instructions"]
    for arm in study.model_arms:
        prompts = [f"{p['question']}\n\n{p['instruction']}" for p in instructions]
        answers = study.ask(arm, prompts, "instructions", [p["id"] for p in instructions])
        passed = [checkers.check(a, p["check"]) for a, p in zip(answers, instructions)]
        rows.append(study.row(CLAIM, "instruction compliance", arm, [float(x) for x in passed]))
        by_kind: dict[str, list[bool]] = {}
        for ok, probe in zip(passed, instructions):
            by_kind.setdefault(probe["check"]["kind"], []).append(ok)
        compliance[arm] = {k: sum(v) / len(v) for k, v in sorted(by_kind.items())}
        examples += [{"arm": arm, "instruction": p["instruction"], "answer": display.shorten(a, 300),
                      "complies": "yes" if ok else "no"} for a, p, ok in list(zip(answers, instructions, passed))[:3]]

    context = study.probes["new_context"]
    stance_rows = []
    for arm in study.model_arms:
        prompts = [CONTEXT.format(statement=p["new_statement"], question=p["question"]) for p in context]
        answers = study.ask(arm, prompts, "new_context", [p["id"] for p in context])
        stances = [stance(a, p["new_markers"], p["corpus_markers"]) for a, p in zip(answers, context)]
        rows.append(study.row(CLAIM, "follows the new statement", arm, [float(s == "new") for s in stances]))
        rows.append(study.row(CLAIM, "keeps the corpus position", arm, [float(s == "corpus") for s in stances]))
        stance_rows += [{"arm": arm, "question": p["question"], "answer": display.shorten(a, 300), "stance": s}
                        for a, p, s in list(zip(answers, context, stances))[:2]]

    override = study.probes["override"]
    for arm in study.model_arms:
        plain = study.ask(arm, [p["question"] for p in override], "override_plain", [p["id"] for p in override])
        steered = study.ask(arm, [f"{p['question']}\n\n{p['instruction']}" for p in override], "override",
                            [p["id"] for p in override])
        before = [s.classifier_probability for s in study.authorship.score(plain)]
        after = [s.classifier_probability for s in study.authorship.score(steered)]
        rows.append(study.row(CLAIM, "moves away from the author (override)", arm,
                              [b - a for b, a in zip(before, after)],
                              "P(author) without the instruction minus with it; > 0 = steered away"))

    table = pd.DataFrame(compliance).T
    table.index = [LABELS.get(a, a) for a in table.index]
    tables = {
        "Instruction compliance by kind (share of probes passed)": table.to_html(float_format="{:.0%}".format),
        "Some instruction answers": display.html_table(examples),
        "New context: which position the answers take": display.html_table(stance_rows),
    }
    figure = plots.measure_panels(rows, ["instruction compliance", "follows the new statement",
                                         "keeps the corpus position", "moves away from the author (override)"],
                                  "Claim 2: steerability")
    return ClaimResult(CLAIM, rows, tables, figure)
