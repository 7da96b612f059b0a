"""A measure's values per arm, and what the study reports of them: an estimate per arm and paired contrasts.

Every claim is comparative and every arm answers the same probes, so a measure keeps one value per probe
and arm, aligned across arms (None where a value is excluded: an answer too short to judge, a verdict that
could not be parsed). The headline of a claim is a **paired contrast** between two arms on the same probes,
with the probes resampled once for all arms; the per-arm estimates are shown beside it. A short list of
primary contrasts (`primary_contrasts` in the configuration) is Holm-corrected; everything else is
exploratory and labelled so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import stats
from .arms import LABELS

PROPORTION, MEAN = "proportion", "mean"
# (arm, against): the comparisons every measure gets where both arms have values
CONTRASTS = [("pretraining", "base"), ("instruction", "pretraining"), ("instruction", "base"),
             ("sft_only", "instruction"), ("pretraining", "retrieval"), ("instruction", "retrieval"),
             ("sft_only", "retrieval"),
             # the control author (another person in her register, trained alike): what is hers, not her register's
             ("pretraining", "control_pretraining"), ("instruction", "control_instruction"),
             ("control_pretraining", "base"), ("control_instruction", "control_pretraining")]


def label(arm: str) -> str:
    return LABELS.get(arm, arm)


@dataclass
class Measure:
    claim: str
    name: str
    unit: str                                  # what one value is about: "question", "held-out document", ...
    kind: str                                  # PROPORTION (0/1 values) or MEAN
    direction: str                             # how to read it: "higher = more like the author"
    cannot_show: str
    values: dict[str, list] = field(default_factory=dict)   # arm -> one value (or None) per unit
    clusters: list[str] | None = None          # a cluster per unit (its document), resampled instead of units
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)  # arm -> reason -> count
    reference: dict[str, float] = field(default_factory=dict)          # lines worth drawing (chance, author)
    exploratory: bool = False                  # never a headline (not validated, or descriptive only)
    verdicts: dict[str, str] = field(default_factory=dict)             # arm -> a reading in words (DigiDan)
    bounds: tuple[float, float] | None = None  # the range a value can take (a probability: 0 to 1)
    pairs: list[tuple[str, str]] | None = None  # the contrasts it is read by (None: CONTRASTS)
    scale: str = ""                            # what one value counts, with its unit ("nats per token")

    def n_units(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


def estimate(measure: Measure, values: list, resamples: int, seed: int) -> stats.Estimate:
    if measure.clusters is not None:
        groups: dict[str, list[float]] = {}
        for cluster, value in zip(measure.clusters, values):
            if value is not None:
                groups.setdefault(cluster, []).append(value)
        return stats.clustered_mean(list(groups.values()), resamples=resamples, seed=seed)
    if measure.kind == PROPORTION:
        return stats.proportion(values)
    return stats.mean(values, resamples=resamples, seed=seed, bounds=measure.bounds)


def arm_rows(measure: Measure, resamples: int, seed: int) -> list[dict]:
    """One row per arm: the estimate with its interval, the units it rests on and what was excluded."""
    rows = []
    for arm, values in measure.values.items():
        e = estimate(measure, values, resamples, seed)
        excluded = measure.excluded.get(arm, {})
        rows.append({"claim": measure.claim, "measure": measure.name, "arm": label(arm), **e.as_dict(),
                     "unit": measure.unit, "excluded": ", ".join(f"{k}: {v}" for k, v in excluded.items() if v),
                     "direction": measure.direction, "exploratory": measure.exploratory})
    return rows


def claim_figure(measures: list[Measure], title: str, resamples: int, seed: int, shown: list[str] | None = None):
    """A claim's figure: a panel per measure (`shown`; by default those that may be a headline), each arm with
    its 95% interval, the measure's unit on the y axis and its reference lines (chance, her own value) in a
    legend. A measure no arm has a value for is named with its reason under the panels, not drawn; None when
    no shown measure has a value."""
    from ..view import plots

    names = shown if shown is not None else [m.name for m in measures if not m.exploratory]
    panels, missing = [], {}
    for m in (m for m in measures if m.name in names):
        rows = arm_rows(m, resamples, seed)
        if any(r["n"] for r in rows):
            panels.append({"measure": m.name, "ylabel": value_unit(m), "rows": rows, "reference": m.reference})
        else:
            missing[m.name] = not_computed(m)
    return plots.measure_panels(panels, title, missing)


def value_unit(measure: Measure) -> str:
    """What the y axis of a measure's panel counts, with its unit."""
    if measure.scale:
        return measure.scale
    plural = measure.unit if measure.unit.endswith("s") else measure.unit + "s"
    if measure.kind == PROPORTION:
        return f"share of {plural} (0 to 1)"
    low, high = measure.bounds or (-math.inf, math.inf)
    span = (f", {low:g} to {high:g}" if math.isfinite(low) and math.isfinite(high) else
            f", at least {low:g}" if math.isfinite(low) else "")
    return f"mean per {measure.unit}{span}"


def not_computed(measure: Measure) -> str:
    """Why no arm has a value: the reasons values were excluded, or that nothing was measured."""
    counts: dict[str, int] = {}
    for reasons in measure.excluded.values():
        for reason, count in reasons.items():
            counts[reason] = max(counts.get(reason, 0), count)
    found = ", ".join(reason for reason, count in counts.items() if count)
    return f"every value excluded: {found}" if found else "no value was measured"


def contrast_name(measure: Measure, arm: str, against: str) -> str:
    return f"{measure.name}: {label(arm)} - {label(against)}"


def contrast_rows(measure: Measure, resamples: int, seed: int,
                  pairs: list[tuple[str, str]] | None = None) -> list[dict]:
    """The paired contrasts (`pairs`, else the measure's own, else the standard ones) whose two arms both
    answered; probes resampled once for all of them. Other arms than a run's (doses, placebos) name their own
    pairs."""
    pairs = pairs if pairs is not None else measure.pairs if measure.pairs is not None else CONTRASTS
    pairs = [(a, b) for a, b in pairs if a in measure.values and b in measure.values]
    if not pairs:
        return []
    found = stats.paired(measure.values, pairs, binary=measure.kind == PROPORTION, resamples=resamples, seed=seed,
                         clustered=measure.clusters, bounds=measure.bounds)
    return [{"claim": measure.claim, "contrast": contrast_name(measure, a, b), "measure": measure.name,
             "arm": label(a), "against": label(b), **found[(a, b)].as_dict(), "unit": measure.unit,
             "direction": measure.direction, "exploratory": measure.exploratory}
            for a, b in pairs]


def primary(contrasts: list[dict], declared: list[str], reasons: dict[str, str] | None = None
            ) -> tuple[list[dict], list[dict]]:
    """The declared primary contrasts, Holm-adjusted over the whole declared family, and those not computed.

    A declared contrast that cannot be computed here (an arm or a measure missing, too few units for a p-value,
    a measure not fit to be a headline) still counts in the family with p = 1: dropping it would make the
    others' correction depend on what happened to be computable. Returns (computed rows with `p_holm`, not
    computed: {"contrast", "reason"} each, the reason from `reasons` first, else read off the rows).
    """
    by_name = {row["contrast"]: row for row in contrasts}
    chosen, missing = [], []
    for name in dict.fromkeys(declared):
        reason = (reasons or {}).get(name) or why_not(name, by_name.get(name), contrasts)
        if reason:
            missing.append({"contrast": name, "reason": reason})
        else:
            chosen.append(dict(by_name[name], primary=True))
    family = {row["contrast"]: row["p_value"] for row in chosen} | {row["contrast"]: 1.0 for row in missing}
    adjusted = stats.holm(family) if family else {}
    for row in chosen:
        row["p_holm"] = adjusted[row["contrast"]]
    return chosen, missing


def why_not(name: str, row: dict | None, contrasts: list[dict]) -> str:
    """Why a declared contrast has no p-value here, in a few words; "" when it has one."""
    if row is None:
        measure, _, arms = name.rpartition(": ")
        if not any(r["measure"] == measure for r in contrasts):
            return f"the measure '{measure}' was not computed in this run (not fitted, or no claim computes it)"
        return f"no such pair of arms in this run ({arms})"
    if row["exploratory"]:
        return "the measure is exploratory here (not shown to say what it claims, or its own check failed)"
    if math.isnan(row.get("p_value") if row.get("p_value") is not None else math.nan):
        if "document" in str(row.get("unit", "")) and (row.get("n") or 0) < 3:
            return f"too few held-out documents ({row.get('n') or 0}; at least 3, and 5 for its power): {row['method']}"
        return f"no p-value: {row.get('method') or 'no interval'}"
    return ""
