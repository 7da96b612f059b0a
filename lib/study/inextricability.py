"""Claim 1, inextricability: are the author's patterns separable from the population's, and does tuning
forget the population's?

- Perplexity of every model arm on the held-out author documents (learning the author) and on general
  text (forgetting): forgetting is the rise on general text against the base model. Optionally also on
  text the base model itself samples for generic prompts (drift from the base distribution).
- Distinguishability: the authorship measure scores each arm's answers to the plain questions: the share
  judged author-like (character n-gram classifier and cosine Delta), and the mix of author and generic
  features. Retrieval (the author's own passages) anchors the author end of the scale.
"""

from __future__ import annotations

import math

from .. import display, plots
from . import stats
from .study import ClaimResult, Study, general_texts, strip_eos

CLAIM = "1 inextricability"


def perplexity_sets(study: Study) -> dict[str, list[str]]:
    eos = study.arms.tokenizer.eos_token
    sets = {"held-out author": [strip_eos(r["text"], eos) for r in study.val_chunks],
            "general text": general_texts(study.cfg)}
    if study.cfg.sample_generic_text:
        prompts = study.probes["generic_prompts"]
        sets["base samples"] = study.ask("base", prompts, "generic_prompts", settings=study.sampling)
    return sets


def run(study: Study) -> ClaimResult:
    rows = []
    ppl_table = []
    base_general = None
    for arm in study.model_arms:
        entry = {"arm": arm}
        for name, texts in perplexity_sets(study).items():
            losses = study.arms.losses(arm, texts)
            e = study.estimate(losses)  # mean loss per window; perplexity = exp(mean loss)
            ppl = stats.Estimate(math.exp(e.mean), math.exp(e.low), math.exp(e.high), e.n)
            rows.append(study.row(CLAIM, f"perplexity: {name}", arm, estimate=ppl,
                                  note="exp of the mean loss over 256-token windows"))
            entry[name] = round(math.exp(e.mean), 2)
            if arm == "base" and name == "general text":
                base_general = losses
            if name == "general text" and arm != "base" and base_general is not None:
                rises = [a - b for a, b in zip(losses, base_general)]
                rows.append(study.row(CLAIM, "forgetting: loss rise on general text", arm, rises,
                                      "nats/token against the base model; > 0 means forgetting"))
        ppl_table.append(entry)
    samples = []
    for arm in study.model_arms + ["retrieval"]:
        answers = study.plain_answers(arm)
        scores = study.authorship.score(answers)
        rows.append(study.row(CLAIM, "author-like (classifier)", arm, [s.as_dict()["classifier_author_like"]
                                                                        for s in scores]))
        rows.append(study.row(CLAIM, "author-like (cosine Delta)", arm, [s.as_dict()["delta_author_like"]
                                                                          for s in scores]))
        rows.append(study.row(CLAIM, "author feature share", arm, [s.author_feature_share for s in scores],
                              "share of fingerprint words nearer the author than the generic centroid"))
        samples.append((arm, answers[0], scores[0].classifier_probability))
    tables = {
        "Perplexity by arm (lower = the text is less surprising to the arm)": display.frame(ppl_table).to_html(
            index=False),
        "The first question, answered by each arm, with P(author) from the classifier": display.html_table(
            [{"arm": a, "answer": display.shorten(t, 600), "P(author)": f"{p:.2f}"} for a, t, p in samples]),
    }
    figure = plots.measure_panels(rows, ["perplexity: held-out author", "perplexity: general text",
                                         "author-like (classifier)", "author feature share"],
                                  "Claim 1: inextricability")
    return ClaimResult(CLAIM, rows, tables, figure)
