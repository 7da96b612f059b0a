"""Claim 1's 2 x 2 cross-likelihood: every model arm's loss on her held-out documents (H) and on the control
author's (K), and what can be read off it about her.

The control author writes in her register and his arms are trained exactly like hers (same recipe, as many
tokens), so A (her arm) and C (his) differ only in whose text they learned. Three readings, all by document
(windows nested in documents; her documents and his are different documents, resampled independently):

- **Her text alone, A - C on H** (`loss on held-out author text: stage 1 - control stage 1`, a paired contrast
  on the same windows): below 0 = her arm predicts her unseen writing better than a register-matched
  stranger's arm does. Under a placebo (an arm P tuned on a third register-mate as if he were her, against C)
  it is P - C on H: two strangers to her, 0 when both are as near her register. The declared primary.
- **The interaction, (A - C on H) - (A - C on K)** (`loss on her text minus on the control's: stage 1 -
  control stage 1`): arm-wide differences (forgetting, sharpness) cancel, but it adds the two home advantages,
  hers and his. Under the placebo it is (P - C on H) - (P - C on K), and P - C on K is the control arm's own
  home advantage, above 0 by construction: the interaction calls a placebo "hers". It says the pair is
  separable (each arm knows its own author), not that what her arm learned is hers.
- **Her text against his for one arm, (A - base on H) - (A - base on K)**, and the **inextricability index**,
  her arm's gain over the base model on his text as a share of its gain on hers: near 1, what it learned of
  her shows on any register-mate (register, period, topic); near 0, it is specific to her. Under the placebo
  it is 0 (or 1) only if the third author is as near her as him. Undefined (not a huge ratio) when the gain
  on her text is not clearly above 0.

`bench/validation/known_truth.py` decides between them on arms of known truth (author, control, placebo); see
`docs/_incoming/claims.md` and `bench/validation/claim1_placebo.py`.
"""

from __future__ import annotations

import math

from . import stats
from .measures import Measure, estimate, label

HER, HIS = "loss on held-out author text", "loss on the control author's held-out text"
CROSSED = "loss on her text minus on the control's"
INDEX = "inextricability index (gain on his text / on hers)"
AUTHOR_ARMS = ("pretraining", "instruction")
CONTROL_ARMS = ("control_pretraining", "control_instruction")
CONTROL_PAIRS = list(zip(AUTHOR_ARMS, CONTROL_ARMS))   # each author stage against the control's same stage


def clusters(measure: Measure, arm: str, against: str | None = None) -> list[list[float]]:
    """Per document, the arm's window values (or arm - against on the same windows), None dropped."""
    values, other = measure.values[arm], measure.values[against] if against else None
    found: dict[str, list[float]] = {}
    for i, cluster in enumerate(measure.clusters or range(len(values))):
        a, b = values[i], (other[i] if other is not None else 0.0)
        if a is not None and b is not None:
            found.setdefault(cluster, []).append(a - b)
    return list(found.values())


def row(claim: str, measure: str, arm: str, against: str, estimate: stats.Estimate, unit: str, direction: str,
        exploratory: bool = False) -> dict:
    """A row shaped like `measures.contrast_rows`' (the report's contrasts table and the primaries read it)."""
    found = estimate.as_dict()
    found["p_value"] = math.nan if found["p_value"] is None else found["p_value"]
    return {"claim": claim, "contrast": f"{measure}: {label(arm)} - {label(against)}", "measure": measure,
            "arm": label(arm), "against": label(against), **found, "unit": unit, "direction": direction,
            "exploratory": exploratory}


def default_pairs(arms: list[str], base: str = "base") -> list[tuple[str, str]]:
    """Each author stage against the control's same stage, and every tuned arm against the base model."""
    tuned = [a for a in (*AUTHOR_ARMS, *CONTROL_ARMS) if a in arms]
    return [p for p in CONTROL_PAIRS if p[0] in arms and p[1] in arms] + [(a, base) for a in tuned if base in arms]


def crossed_rows(her: Measure, his: Measure, claim: str, resamples: int, seed: int,
                 pairs: list[tuple[str, str]] | None = None) -> list[dict]:
    """(a - b on her text) - (a - b on his text) for each pair of arms scored on both: her documents and his
    resampled independently (`stats.clustered_difference`)."""
    arms = [a for a in her.values if a in his.values]
    out = []
    for a, b in default_pairs(arms) if pairs is None else pairs:
        if a in arms and b in arms:
            e = stats.clustered_difference(clusters(her, a, b), clusters(his, a, b), resamples, seed)
            out.append(row(claim, CROSSED, a, b, e, "256-token window; her documents and the control's resampled "
                           "independently", "below 0 = the first arm is ahead on her text more than on his"))
    return out


def index_rows(her: Measure, his: Measure, claim: str, resamples: int, seed: int, arms: list[str] | None = None,
               base: str = "base") -> list[dict]:
    """Each arm's inextricability index: its gain over `base` on his text as a share of its gain on hers
    (Fieller's interval), or undefined, with the reason, where her gain is not clearly above 0."""
    scored = [a for a in her.values if a in his.values and a != base]
    out = []
    if base not in her.values or base not in his.values:
        return out
    for arm in [a for a in (arms if arms is not None else AUTHOR_ARMS) if a in scored]:
        gain_her, gain_his = clusters(her, base, arm), clusters(his, base, arm)
        mine = stats.clustered_mean(gain_her, resamples=resamples, seed=seed)
        if not mine.mean > 0:
            e = stats.Estimate(math.nan, math.nan, math.nan, mine.n + len(gain_his),
                               f"undefined: the arm gained nothing over {label(base)} on her text ({mine})")
        else:
            e = stats.clustered_ratio(gain_his, gain_her, resamples, seed)
        out.append(row(claim, INDEX, arm, base, e, "share of the gain on her text (documents of both resampled)",
                       "1 = all it learned of her shows on his text too; 0 = none of it"))
    return out


def table(measures: dict[str, Measure], resamples: int, seed: int) -> list[dict]:
    """The 2 x 2 (and general text) as a reader sees it: each arm's loss on each text, with its interval."""
    arms = list(dict.fromkeys(a for m in measures.values() for a in m.values))
    out = []
    for arm in arms:
        entry = {"arm": label(arm)}
        for title, m in measures.items():
            if arm in m.values:
                e = estimate(m, m.values[arm], resamples, seed)
                entry[title] = f"{e.mean:.4g} [{e.low:.4g}, {e.high:.4g}]" if math.isfinite(e.low) else f"{e.mean:.4g}"
            else:
                entry[title] = "not scored"
        out.append(entry)
    return out


def reading(index: list[dict]) -> list[dict]:
    """The index in words, one row per arm: what a reader may say, or why nothing can be said."""
    out = []
    for r in index:
        low, high = r["ci_low"], r["ci_high"]
        if not math.isfinite(r["mean"]):
            words = r["method"]
        else:
            shown = f"{r['mean']:.2f} [{low:.2f}, {high:.2f}]: "
            if low > 1:
                words = shown + "it gained more on the control's text than on hers: nothing here is specific to her"
            elif high >= 1:
                words = shown + ("the interval reaches 1: its gain on her text cannot be told from its gain on a "
                                 "register-mate's")
            elif low > 0:
                words = shown + ("part of what it learned of her shows on a register-mate's text too, part does not: "
                                 "that part is specific to her, on this measure")
            elif high > 0:
                words = shown + ("less than all of its gain carries to the control's text; whether any does cannot "
                                 "be told")
            else:
                words = shown + "none of its gain on her text carries to the control's text"
        out.append({"arm": r["arm"], "index [95% interval]": words})
    return out
