"""Claim 2, steerability: can the tuned model be steered by what it is told at inference time?

- Verifiable instructions (`instructions.jsonl`): each answer is checked by code (`lib.study.checkers`) on the
  whole answer: instruction probes may run to `instruction_max_new_tokens`, and an answer that still hits
  that cap is counted apart, never scored as a failure to comply (a cut answer cannot end with a phrase).
- New context (`new_context.jsonl`): the prompt carries a new statement by the author that contradicts a
  position in her essays; markers that do not occur in the prompt, read with negation in mind
  (`lib.study.stance`), say whether the answer follows the new statement, the old position, or neither.
- Override (`override.jsonl`): an explicit instruction to answer in another voice; how far the authorship
  measure's P(author) drops against the same question asked plainly.
"""

from __future__ import annotations

import pandas as pd

from ..view import display
from . import checkers, stance
from .arms import LABELS
from .measures import MEAN, PROPORTION, Measure, claim_figure
from .probes import CONTEXT
from .study import ClaimResult, Study

CLAIM = "2 steerability"


def compliance(study: Study) -> tuple[Measure, dict, list]:
    probes = study.probes["instructions"]
    measure = Measure(CLAIM, "instruction compliance", "instruction probe", PROPORTION,
                      "higher = does what it is told",
                      "checks what code can check (length, words, format), not whether the content is good")
    by_kind, examples = {}, []
    for arm in study.model_arms:
        prompts = [f"{p['question']}\n\n{p['instruction']}" for p in probes]
        answers = study.ask(arm, prompts, "instructions", [p["id"] for p in probes], settings=study.instruction)
        values, cut = [], 0
        for answer, probe in zip(answers, probes):
            if study.is_cut(answer, study.instruction):
                values.append(None)
                cut += 1
            else:
                values.append(float(checkers.check(answer, probe["check"])))
        measure.values[arm] = values
        measure.excluded[arm] = {"cut at the cap": cut}
        kinds: dict[str, list[float]] = {}
        for value, probe in zip(values, probes):
            if value is not None:
                kinds.setdefault(probe["check"]["kind"], []).append(value)
        by_kind[LABELS.get(arm, arm)] = {k: sum(v) / len(v) for k, v in sorted(kinds.items())}
        examples += [{"arm": arm, "instruction": p["instruction"], "answer": display.shorten(a, 300),
                      "complies": {None: "cut", 1.0: "yes", 0.0: "no"}[v]}
                     for a, p, v in list(zip(answers, probes, values))[:3]]
    return measure, by_kind, examples


def new_context(study: Study) -> tuple[list[Measure], list]:
    probes = study.probes["new_context"]
    follows = Measure(CLAIM, "follows the new statement", "new-context probe", PROPORTION,
                      "higher = takes up what it is told now over what the corpus says",
                      "stance read from marker phrases absent from the prompt, negation handled; paraphrase beyond "
                      "the markers reads as neither: see the answers")
    keeps = Measure(CLAIM, "keeps the corpus position", "new-context probe", PROPORTION,
                    "higher = holds to the essays against the new statement", follows.cannot_show, exploratory=True)
    shown = []
    for arm in study.model_arms:
        prompts = [CONTEXT.format(statement=p["new_statement"], question=p["question"]) for p in probes]
        answers = study.ask(arm, prompts, "new_context", [p["id"] for p in probes])
        stances = [stance.stance(a, p, prompt) for a, p, prompt in zip(answers, probes, prompts)]
        follows.values[arm] = [float(s == "new") for s in stances]
        keeps.values[arm] = [float(s == "corpus") for s in stances]
        shown += [{"arm": arm, "question": p["question"], "answer": display.shorten(a, 300), "stance": s}
                  for a, p, s in list(zip(answers, probes, stances))[:2]]
    return [follows, keeps], shown


def override(study: Study) -> Measure:
    probes = study.probes["override"]
    measure = Measure(CLAIM, "moves away from the author when told to", "override probe", MEAN,
                      "> 0 = the instruction moved the voice away from hers",
                      study.authorship.caveat(study.check) + "P(author) without the instruction minus with it, "
                      "each on the "
                      "same number of words", exploratory=True, bounds=(-1.0, 1.0))
    for arm in study.model_arms:
        ids = [p["id"] for p in probes]
        plain = study.ask(arm, [p["question"] for p in probes], "override_plain", ids)
        steered = study.ask(arm, [f"{p['question']}\n\n{p['instruction']}" for p in probes], "override", ids)
        before, after = study.authorship.probability(plain), study.authorship.probability(steered)
        measure.values[arm] = [None if b is None or a is None else b - a for b, a in zip(before, after)]
        measure.excluded[arm] = {"too short to judge": sum(v is None for v in measure.values[arm])}
    return measure


def run(study: Study) -> ClaimResult:
    measures, tables, notes = [], {}, []
    followed, by_kind, examples = compliance(study)
    measures.append(followed)
    if study.probes["new_context"]:
        context, shown = new_context(study)
        measures += context
        tables["New context: which position the answers take"] = display.html_table(shown)
    else:
        notes.append("new_context.jsonl holds no statements: only the author can write them (see data/probes/README.md)")
    measures.append(override(study))
    tables = {"Instruction compliance by kind (share of whole answers that comply)":
              pd.DataFrame(by_kind).T.to_html(float_format="{:.0%}".format),
              "Some instruction answers": display.html_table(examples), **tables}
    figure = claim_figure(measures, "Claim 2: steerability", study.cfg.bootstrap_samples, study.cfg.seed)
    return ClaimResult(CLAIM, measures, tables, figure, notes)
