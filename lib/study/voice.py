"""Claim 3's headline: does an arm speak in her voice rather than in the control author's?

With a control author (another writer in her register, trained the same way), the two-author verifier
(`lib.study.verifier`) judges every text on its first `authorship_words` words: hers, or the control's. The
primaries compare her arms with the control's on the same prompts, so whatever any tuning in her register
does (period, genre, "an essayist") cancels:

- answers to the plain questions called hers: stage 1 + 2 - control stage 1 + 2; stage 1 + 2 - stage 1;
- continuations called hers: the same contrasts, on openings from BOTH authors' held-out documents. Her
  openings alone would pull every arm towards her (a continuation keeps its opening's voice) and leave little
  room above it; with openings of both, an arm that merely continues in the opening's voice is called hers
  about half the time whoever tuned it, and what moves the share is the arm's own voice. Openings of one
  document are not independent: the document is the unit resampled.

Without a control there is no verifier: these primaries are not computed and the report says why; the
author-versus-generic measure (`authorship`) stays, exploratory.
"""

from __future__ import annotations

from ..view import display
from .measures import PROPORTION, Measure, label

CLAIM = "3 replica"
ANSWERS = "answers called hers, not the control's"
CONTINUATIONS = "continuations called hers, not the control's"
# (arm, against) on a run: her arms against the control's at the same stage, and the stages against each other
PAIRS = [("instruction", "control_instruction"), ("pretraining", "control_pretraining"), ("instruction", "pretraining"),
         ("control_instruction", "control_pretraining"), ("pretraining", "base"), ("control_pretraining", "base"),
         ("instruction", "base"), ("control_instruction", "base"), ("sft_only", "control_instruction")]
PRIMARY = [(ANSWERS, "instruction", "control_instruction"), (CONTINUATIONS, "instruction", "control_instruction"),
           (ANSWERS, "instruction", "pretraining"), (CONTINUATIONS, "instruction", "pretraining")]
NO_CONTROL = ("not computed: there is no control author (control_corpus is null), so no two-author verifier; "
              "without one, nothing can say an arm sounds like her rather than like anyone in her register")


def primary_contrasts() -> list[str]:
    """The names of claim 3's proposed primaries, as the report names contrasts."""
    return [f"{name}: {label(arm)} - {label(against)}" for name, arm, against in PRIMARY]


def not_computed(study) -> dict[str, str]:
    """Claim 3's primaries that cannot be computed here, each with its reason (empty when all can be)."""
    if not study.has_control or study.verifier is None:
        return dict.fromkeys(primary_contrasts(), NO_CONTROL)
    if not study.verifier.fitted or study.verifier.quality.reason:
        reason = f"not computed: the two-author verifier could not be fitted or calibrated ({study.verifier.reason})"
        return dict.fromkeys(primary_contrasts(), reason)
    if not study.verifier.quality.fit:
        return dict.fromkeys(primary_contrasts(), "exploratory: the two-author verifier is below its quality bar "
                             "on held-out documents (see its quality table)")
    return {f"{name}: {label(arm)} - {label(against)}": f"not computed: the run has no arm {label(missing)} ({missing})"
            for name, arm, against in PRIMARY for missing in (arm, against) if missing not in study.model_arms}


def usable(study, fit: bool = True) -> bool:
    """Whether the study has a calibrated two-author verifier (and, with `fit`, one above its quality bar)."""
    v = study.verifier
    return bool(study.has_control and v is not None and v.fitted and v.quality is not None and not v.quality.reason
                and (v.quality.fit or not fit))


def caveat(study) -> str:
    quality = study.verifier.quality
    unfit = "" if quality.fit else ("UNFIT: below its quality bar on held-out documents; read nothing into it. ")
    return (unfit + f"hers or the control's, on the first {study.verifier.words} words: a third writer in her register "
            "is called hers at a rate the oracle's placebo measures (docs: the verifier), not never; voice, not content")


def counterpart(study, arm: str) -> str | None:
    """The control's arm answering where `arm` answers (her stage 1 + 2: the control's stage 1 + 2), or None."""
    mapping = getattr(study.arms, "counterparts", None) or {"pretraining": "control_pretraining",
                                                            "instruction": "control_instruction",
                                                            "sft_only": "control_instruction"}
    found = mapping.get(arm)
    return found if found in study.model_arms else None


def answers_measure(study) -> Measure:
    measure = Measure(CLAIM, ANSWERS, "question", PROPORTION, "higher = in her voice rather than the control's",
                      caveat(study), exploratory=not study.verifier.quality.fit, pairs=PAIRS, bounds=(0.0, 1.0))
    measure.reference = answers_reference(study)
    for arm in study.model_arms:
        measure.values[arm] = study.verifier.hers(study.plain_answers(arm))
        measure.excluded[arm] = {f"under {study.verifier.words} words": sum(v is None for v in measure.values[arm])}
    return measure


def continuations_measure(study) -> tuple[Measure, list[dict]]:
    """Continuations of her openings and the control's, called hers or the control's; and the share by whose
    opening it was (a table)."""
    mine, theirs = study.probes["completions"], study.probes.get("control_completions", [])
    measure = Measure(CLAIM, CONTINUATIONS, "held-out opening (hers and the control's), resampled by document",
                      PROPORTION, "higher = continues in her voice rather than the control's",
                      caveat(study) + "; the opening's own voice pulls every arm alike (openings of both authors)",
                      exploratory=not study.verifier.quality.fit, pairs=PAIRS, bounds=(0.0, 1.0))
    measure.clusters = [f"author:{p['document']}" for p in mine] + [f"control:{p['document']}" for p in theirs]
    measure.reference = answers_reference(study)
    by_opening = []
    for arm in study.model_arms:
        hers = study.ask(arm, [p["opening"] for p in mine], "completion", [p["id"] for p in mine], chat=False)
        control = study.ask(arm, [p["opening"] for p in theirs], "control_completion", [p["id"] for p in theirs],
                            chat=False)
        values = study.verifier.hers(hers + control)
        measure.values[arm] = values
        measure.excluded[arm] = {f"under {study.verifier.words} words": sum(v is None for v in values)}
        split = {"hers": values[: len(mine)], "the control's": values[len(mine):]}
        by_opening.append({"arm": label(arm), **{f"{who} openings: called hers": share(v) for who, v in split.items()}})
    return measure, by_opening


def answers_reference(study) -> dict[str, float]:
    return {"her held-out text": study.verifier.quality.sensitivity.mean,
            "the control's held-out text": 1 - study.verifier.quality.specificity.mean}


def share(values: list) -> str:
    found = [v for v in values if v is not None]
    return f"{sum(found) / len(found):.2f} (n={len(found)})" if found else "(none judged)"


def run(study) -> tuple[list[Measure], dict[str, str], list[str]]:
    """(claim 3's verifier measures, their tables, notes). Without a control: no measures, and a note naming the
    primaries that are not computed and why."""
    missing = not_computed(study)
    if not usable(study, fit=False):
        return [], {}, [f"{name}: {reason}" for name, reason in missing.items()]
    quality = study.verifier.quality
    tables = {"The two-author verifier on held-out documents of both authors (" + ", ".join(
        f"{side}: {n} documents" for side, n in quality.documents.items()) + ")": display.html_table(
        [{k: (f"{v:.3g}" if isinstance(v, float) else v) for k, v in row.items()} for row in quality.rows()])}
    measures = [answers_measure(study)]
    if study.probes["completions"]:
        continuations, by_opening = continuations_measure(study)
        measures.append(continuations)
        tables["Continuations called hers (two-author verifier), by whose opening"] = display.html_table(by_opening)
    notes = [f"{name}: {reason}" for name, reason in missing.items()]
    return measures, tables, notes
