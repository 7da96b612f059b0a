"""Claim 1, inextricability: are the author's patterns separable from the population's, and does tuning on
her forget the population?

- Loss on held-out author text (nats per token, 256-token windows resampled by held-out document): does an
  arm predict her unseen writing better than the base model (learning text like hers), and better than the
  control author's arm (another person in her register, trained alike: learning what is hers)? With the
  control author's held-out documents scored too, the 2 x 2 cross-likelihood and the inextricability index
  (`cross_likelihood`): how much of what an arm learned of her shows on a register-mate's text as well.
- Loss on general text (documents of other authors, or units of the general reference text): does it
  predict other people worse than the base model (forgetting)?
- Answers called the author's: the authorship measure on each arm's answers to the questions, judged on
  the same number of words each; her held-out text anchors the author's end (never the passages it learnt
  from). Its self-check on held-out text says whether it can speak of the author here at all.
- The author probability of the answers: where an answer sits between generic (0) and the author (1); on
  blends of her sentences with another author's it rises with her share (checked on oracle arms).
"""

from __future__ import annotations

import math

from ..view import display
from . import cross_likelihood
from .measures import MEAN, PROPORTION, Measure, claim_figure
from .study import ClaimResult, Study

CLAIM = "1 inextricability"


def loss_measure(study: Study, name: str, units: dict[str, list[str]], direction: str, cannot_show: str) -> Measure:
    """Per-window losses of every model arm on texts grouped in units (documents), resampled by unit."""
    texts, owners = [], []
    for unit, parts in units.items():
        texts += parts
        owners += [unit] * len(parts)
    measure = Measure(CLAIM, name, "256-token window, resampled by document", MEAN, direction, cannot_show)
    measure.scale = "nats per token"
    for arm in study.model_arms:
        scored = study.arms.losses(arm, texts)
        measure.values[arm] = [loss for _, loss in scored]
        measure.clusters = [owners[index] for index, _ in scored]
    return measure


def authorship_measures(study: Study, answers: dict[str, list[str]], what: str) -> list[Measure]:
    """Share called the author's and the author probability of `answers` (arm -> texts, one per probe)."""
    check = study.check
    caveat = study.authorship.caveat(check)
    words = study.authorship.words
    share = Measure(CLAIM, f"{what} called the author's", what.rstrip("s"), PROPORTION,
                    "higher = more like the author", caveat + f"judged on the first {words} words of each text; "
                    "voice, not whether the content is hers", exploratory=True)
    probability = Measure(CLAIM, f"author probability of {what}", what.rstrip("s"), MEAN,
                          "0 = other authors, 1 = the author", caveat + "a position between the two anchors, "
                          "not a share of sentences", exploratory=True, bounds=(0.0, 1.0))
    share.reference = {"the author's held-out text": check.sensitivity.mean}
    for arm, texts in answers.items():
        p = study.authorship.probability(texts)
        share.values[arm] = [None if x is None else float(x > 0.5) for x in p]
        probability.values[arm] = p
        short = sum(x is None for x in p)
        share.excluded[arm] = probability.excluded[arm] = {f"under {words} words": short}
    return [share, probability]


NO_CONTROL = ("No control corpus (control_corpus is not set): nothing here can tell what the arms learned of her "
              "from what they would learn of anyone in her register. Lower loss on her text than the base model's "
              "is also what a model tuned on another essayist of her register shows (known truth).")


def run(study: Study) -> ClaimResult:
    measures = []
    if study.arms.can_score:
        measures.append(loss_measure(
            study, cross_likelihood.HER, study.author_held_out,
            "lower = predicts her unseen writing better",
            "how well the arm predicts her words, not whether it shares her judgements; against the base model "
            "it is not specific to her (an arm tuned on a register-mate lowers it too), against the control "
            "arm it is; rests on the held-out documents (n = documents)"))
        if study.has_control:
            measures.append(loss_measure(
                study, cross_likelihood.HIS, study.control_held_out,
                "lower = predicts the control author's unseen writing better",
                "the register-mate's side of the 2 x 2: read with her text, not alone (n = his documents)"))
        measures.append(loss_measure(
            study, "loss on general text", study.general, "higher than the base model = forgetting",
            "prediction of other people's prose, not skills, facts or manners"))
        if study.cfg.sample_generic_text and "base" in study.model_arms:
            prompts = study.probes["generic_prompts"]
            samples = study.ask("base", prompts, "generic_prompts", settings=study.sampling)
            drift = loss_measure(study, "loss on the base model's own samples", dict(zip(prompts, [[t] for t in samples])),
                                 "higher than the base model = drift from its distribution",
                                 "the base model's own text, which the base model finds easy by construction")
            drift.exploratory = True
            measures.append(drift)
    # retrieval quotes her training passages, which the measure learnt from: its anchor is her held-out text
    answers = {arm: study.plain_answers(arm) for arm in study.model_arms}
    measures += authorship_measures(study, answers, "answers")
    tables, notes, contrasts = {}, [], []
    if study.arms.can_score and study.has_control:
        contrasts, tables = two_by_two(study, measures)
    elif study.arms.can_score:
        notes.append(NO_CONTROL)
    losses = [m for m in measures if m.name.startswith("loss")]
    if losses:
        perplexity = []
        for arm in study.model_arms:
            entry = {"arm": arm}
            for m in losses:
                values = [v for v in m.values[arm] if v is not None]
                entry[m.name.replace("loss", "perplexity")] = round(math.exp(sum(values) / len(values)), 2) if values else None
            perplexity.append(entry)
        tables["Perplexity by arm (exp of the mean loss; lower = the text surprises the arm less)"] = \
            display.frame(perplexity).to_html(index=False)
    scored = next((m.values for m in measures if m.name.startswith("author probability")), {})
    first = []
    for arm, texts in answers.items():
        p = (scored.get(arm) or [None])[0]
        first.append({"arm": arm, "answer": display.shorten(texts[0], 600) if texts else "",
                      "P(author)": p if p is None else f"{p:.2f}"})
    tables["The first question, answered by each arm, with P(author)"] = display.html_table(first)
    figure = claim_figure(measures, "Claim 1: inextricability", study.cfg.bootstrap_samples, study.cfg.seed,
                                 shown=[m.name for m in measures])
    return ClaimResult(CLAIM, measures, tables, figure, notes, contrasts)


def two_by_two(study: Study, measures: list[Measure]) -> tuple[list[dict], dict[str, str]]:
    """The interaction and her-text-against-his contrasts, the inextricability index, and the 2 x 2 table."""
    cfg = study.cfg
    found = {m.name: m for m in measures}
    her, his = found[cross_likelihood.HER], found[cross_likelihood.HIS]
    crossed = cross_likelihood.crossed_rows(her, his, CLAIM, cfg.bootstrap_samples, cfg.seed)
    index = cross_likelihood.index_rows(her, his, CLAIM, cfg.bootstrap_samples, cfg.seed)
    shown = {"her held-out text": her, "the control's held-out text": his}
    if "loss on general text" in found:
        shown["general text"] = found["loss on general text"]
    tables = {"The 2 x 2 cross-likelihood: each arm's loss (nats per token) on her unseen documents, the control "
              "author's and general text, 95% intervals by document":
              display.html_table(cross_likelihood.table(shown, cfg.bootstrap_samples, cfg.seed)),
              "Inextricability index: each arm's gain over the base model on the control's text, as a share of "
              "its gain on hers (1 = all of it shows on a register-mate too)":
              display.html_table(cross_likelihood.reading(index))}
    return crossed + index, tables
