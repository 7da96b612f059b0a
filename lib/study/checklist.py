"""The seed study's checklist answered: each question the seed study asked, the
contrasts that bear on it, where to look, what they cannot show, and whether this design answers it at all.
The report shows it after the claims; it points at numbers, it computes none.
"""

from __future__ import annotations

import pandas as pd

from ..view import display
from . import findings
from .findings import in_words

# The seed study's checklist: (section, question, contrasts or measures that bear on it, where, what it cannot
# say, whether this design answers it)
CHECKLIST = [
    ("Inextricability", "Do model outputs blend personal patterns with population-level regularities?",
     ["inextricability index (gain on his text / on hers)", "loss on her text minus on the control's"],
     "Claim 1: the 2 x 2 cross-likelihood and the inextricability index",
     "prediction of her words, not her judgements; says nothing of the model's answers",
     "In part, with a control author: how much of what an arm learned of her text shows on a register-mate's"),
    ("Inextricability", "Can you distinguish author-like responses from generic reasoning?",
     ["loss on held-out author text", "answers called hers, not the control's"],
     "Primary contrasts (stage 1 - control stage 1 on her held-out text); Figure 1",
     "against the base model a lower loss is not hers (an arm tuned on a register-mate shows it too); the "
     "one-author classifier's verdicts are exploratory",
     "Yes for predicting her unseen writing, with a control author; for the voice of answers see claim 3"),
    ("Inextricability", "Evidence of catastrophic forgetting with aggressive fine-tuning?",
     ["loss on general text"], "Figure 1", "prediction of other people's prose, not skills or facts",
     "Yes, for other people's prose (against the base model)"),
    ("Steerability", "Does the model incorporate new context provided at inference time?",
     ["follows the new statement"], "Figure 2", "stance from marker phrases; read the answers",
     "Yes, on marker phrases, against the base model"),
    ("Steerability", "Can you override fine-tuned patterns with explicit instructions?",
     ["moves away from the author when told to", "instruction compliance"], "Figure 2", "",
     "Yes for verifiable instructions; the voice override rests on an exploratory measure"),
    ("Steerability", "Comparison with the base model's context-following ability?",
     ["instruction compliance", "follows the new statement"], "Figure 2 (contrasts against base)", "",
     "Yes"),
    ("Replica", "Does sentence-completion training produce speech in your voice?",
     ["continuations called the author's", "continuations called hers, not the control's"], "Figure 3 (stage 1 - base)",
     "voice, not what the author would say next",
     "With a control author: the share called the author's against the control's arm (claim 3); without one, "
     "not about the author"),
    ("Replica", "Phenomenological observations about interacting with the model", [],
     "the side-by-side tables, the chat box in 03_instruct, the questionnaire", "a matter for people, not a number",
     "No: people's observations, for which the study gives material"),
    ("Replica", "Differences between pre-training-only and instruction-tuned models?",
     ["continuations called the author's", "DigiDan: the author's real answer picked"],
     "Figure 3 (stage 1 + 2 - stage 1)", "", "In part: stage 1 + 2 - stage 1 on each measure, none of it primary"),
    ("Domination", "How persuasive or authoritative do the model's outputs feel?",
     ["boosters per 100 words, relative to the author's", "hedges per 100 words, relative to the author's",
      "judged more authoritative than the author's passage"], "Figure 4",
     "word lists count style, not persuasion; the questionnaire asks people",
     "In part: style counts and a model's judgement; how it feels needs people"),
    ("Domination", "Would a surrogate find the outputs too compelling to override?", [],
     "the side-by-side table of claim 4; questionnaire responses", "needs people: no automatic measure answers it",
     "No: needs surrogates"),
    ("Domination", "Comparison with simple retrieval of original documents?",
     ["support by the author's passages", "boosters per 100 words, relative to the author's"],
     "Figure 4 (against retrieval and the base floor)", "",
     "In part: support and style against retrieval (support is in no oracle yet)"),
]


def checklist(estimates: pd.DataFrame, contrasts: pd.DataFrame, cfg=None) -> list[dict]:
    out = []
    for section, question, names, where, caveat, answered in CHECKLIST:
        evidence, absent = [], 0
        for name in names:
            chosen = contrasts[contrasts["measure"] == name] if len(contrasts) else contrasts
            for row in chosen.to_dict("records"):
                if not display.finite(row["mean"]):
                    absent += 1
                    continue
                evidence.append(f"{row['contrast']}: {findings.describe(row, sign=True)}"
                                + (" (exploratory)" if row["exploratory"] else ""))
        if absent:
            evidence.append(f"{absent} contrast{'s' if absent > 1 else ''} not computed")
        out.append({"section": section, "question": question, "look at": where,
                    "evidence (paired contrasts)": "; ".join(evidence) or "(qualitative)",
                    "cannot show": in_words(caveat, cfg), "answered by this design": answered})
    return out
