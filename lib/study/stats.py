"""Uncertainty that holds at the probe study's sizes: 8-50 probes, 3-20 documents, a few respondents.

Every figure is an `Estimate`: the point, a 95% interval, n (the unit counted), the method, and for a
comparison a two-sided p-value. Each interval is the one that kept 95% +/- 3 points of coverage on simulated
data of known truth at these sizes (tests/test_stats.py measures it with the cores in `inference`):

- a share of 0/1 outcomes, a pick rate against chance: Wilson score interval (never zero-width: 0/10 gives
  [0, 0.28]); against chance, the exact two-sided binomial test (below chance is a difference too);
- a mean over probes: bootstrap-t (the percentile bootstrap covered 83-90% at n = 8 on skewed data);
- windows nested in documents: the document is the unit (CR2 cluster-robust t, with a cluster bootstrap-t
  from 6 documents on);
- a contrast between arms on the same probes: the paired difference, one resampling plan for all
  contrasts; for 0/1 outcomes Tango's score interval and McNemar's test (the score test it inverts);
- a questionnaire: respondents and items both random (two-way crossed), Satterthwaite t.

An interval says how far the number would move with another draw of probes (documents, respondents) like
these; it says nothing about another author or model. Where no honest interval exists (one value, two
documents, constant values of an unbounded measure) low and high are NaN and `method` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from . import inference as inf
from .inference import minimum_detectable_effect  # noqa: F401  (part of this module's interface)

NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval, the unit count n, how it was computed, and a p-value for a test."""
    mean: float
    low: float
    high: float
    n: int
    method: str = ""
    p_value: float | None = None

    def as_dict(self) -> dict:
        """The row a table or JSON file keeps (keys mean, ci_low, ci_high, n, method, p_value)."""
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n,
                "method": self.method, "p_value": self.p_value}

    def __str__(self) -> str:
        """As a table shows it: never a NaN (no value, or no interval, says so)."""
        if not np.isfinite(self.mean):
            return f"no value (n={self.n})"
        span = f"[{self.low:.3g}, {self.high:.3g}]" if np.isfinite([self.low, self.high]).all() else "(no interval)"
        text = f"{self.mean:.3g} {span} (n={self.n})"
        return text + (f" p={self.p_value:.2g}" if self.p_value is not None and np.isfinite(self.p_value) else "")


def _clean(values) -> np.ndarray:
    """Floats with None and NaN dropped: a probe an arm did not answer is not a zero."""
    data = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return data[~np.isnan(data)]


def _check_binary(data: np.ndarray, where: str) -> None:
    if data.size and not np.isin(data, (0.0, 1.0)).all():
        raise ValueError(f"{where}: values must be 0 or 1 (use mean() for a continuous measure)")


def _constant(value: float, n: int, confidence: float, bounds, what: str = "values") -> Estimate:
    """All n observations equal: the data show no spread, so the interval comes from what could be unseen.

    With bounds (lo, hi) on the measure, at most a share f = 1 - ((1 - confidence)/2)^(1/n) of the population
    can differ from the value (the exact binomial bound for 0 differing in n), so the mean lies within f of
    the way to either bound. Without bounds no honest interval exists: NaN, and the method says so.
    """
    if bounds is None or not np.isfinite(bounds).all():
        return Estimate(value, NAN, NAN, n, f"all {n} {what} equal {value:g}: no spread observed, so no "
                                            "interval (a measure bounded on both sides gets one with bounds=)")
    low, high = bounds
    share = 1 - ((1 - confidence) / 2) ** (1 / n)
    return Estimate(value, value - share * (value - low), value + share * (high - value), n,
                    f"all {n} {what} equal: at most {share:.0%} of unseen ones could differ (exact binomial "
                    f"bound), within the measure's bounds [{low:g}, {high:g}]")


def _clip(low, high, bounds):
    return (low, high) if bounds is None else (np.clip(low, *bounds), np.clip(high, *bounds))


def proportion(values, confidence: float = 0.95) -> Estimate:
    """A share of 0/1 outcomes (None/NaN dropped) with its Wilson score interval.

    Wilson stays near 95% at n = 8-50 where the percentile bootstrap and the Wald interval fail, and is never
    zero-width (0/10 -> [0, 0.28]); Clopper-Pearson covers 98-99% at these sizes, wider than it need be.
    Like every interval for a count its coverage oscillates with the true share: averaged over nearby
    shares it holds 94-96%, but at a share near 0.2/n (p = 0.02 at n = 8) it dips to 84%.
    """
    data = _clean(values)
    _check_binary(data, "proportion")
    if data.size == 0:
        return Estimate(NAN, NAN, NAN, 0, "no values")
    low, high = inf.wilson(data.sum(), data.size, inf.z_value(confidence))
    return Estimate(float(data.mean()), float(low), float(high), int(data.size), "Wilson score")


def mean(values, resamples: int = 2000, seed: int = 0, confidence: float = 0.95,
         bounds: tuple[float, float] | None = None) -> Estimate:
    """The mean of a continuous measure over probes, with a bootstrap-t interval.

    Bootstrap-t kept 93-96% from n = 8 on normal, lognormal (sigma 0.5), exponential and beta data, where the
    percentile bootstrap gave 83-90% and Student's t 89%; under very heavy skew (lognormal sigma 1) it still
    covers only ~88% at n = 8. `bounds`, the measure's range (e.g. (0, 1) for a probability), clips the
    interval and gives constant values an honest interval (see `_constant`); without them it is NaN.
    """
    data = _clean(values)
    if data.size == 0:
        return Estimate(NAN, NAN, NAN, 0, "no values")
    centre = float(data.mean())
    if data.size == 1:
        return Estimate(centre, NAN, NAN, 1, "one value: no interval")
    if np.ptp(data) == 0:
        return _constant(centre, int(data.size), confidence, bounds)
    _, low, high, _, _ = inf.bootstrap_t(data[None, :], inf.plan(data.size, resamples, seed), confidence)
    low, high = _clip(low[0], high[0], bounds)
    note = "" if data.size >= 8 else " (fewer than 8 probes: coverage not checked)"
    return Estimate(centre, float(low), float(high), int(data.size), f"bootstrap-t over probes{note}")


def bootstrap_mean(values, resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> Estimate:
    """Deprecated name for callers not yet rewired: `proportion` for 0/1 values, else `mean`."""
    data = _clean(values)
    if data.size and np.isin(data, (0.0, 1.0)).all():
        return proportion(data, confidence)
    return mean(data, resamples, seed, confidence)


def _cluster_method(groups: int) -> str:
    if groups < 3:
        return f"{groups} document(s): no interval (the unit is the document; at least 3 are needed)"
    if groups < inf.MIN_RESAMPLED_CLUSTERS:
        return (f"CR2 cluster-robust t over {groups} documents: few documents, coverage holds only if their "
                "means are roughly symmetric")
    return f"CR2 cluster-robust t and cluster bootstrap-t over {groups} documents"


def clustered_mean(clusters: list[list[float]], resamples: int = 2000, seed: int = 0,
                   confidence: float = 0.95) -> Estimate:
    """The mean over all values (each window counted once) nested in clusters (documents); n = documents.

    Windows of one document are not independent evidence, so the document is the unit resampled. With 1-2
    documents there is no interval (NaN, and the method says so); with 3-5 it is the CR2 t alone, and the
    method warns that it assumes roughly symmetric document means (skewed ones covered 90-93%).
    """
    cleaned = [c for c in (_clean(values) for values in clusters) if c.size]
    if not cleaned:
        return Estimate(NAN, NAN, NAN, 0, "no values")
    if len(cleaned) >= 3 and np.ptp(np.concatenate(cleaned)) == 0:
        return _constant(float(cleaned[0][0]), len(cleaned), confidence, None, "document means")
    totals = np.array([[c.sum() for c in cleaned]])
    counts = np.array([[c.size for c in cleaned]], dtype=float)
    centre, low, high, _, groups = inf.cluster_intervals(
        totals, counts, inf.cluster_plan(len(cleaned), resamples, seed), confidence)
    return Estimate(float(centre[0]), float(low[0]), float(high[0]), int(groups[0]), _cluster_method(int(groups[0])))


def _cluster_arrays(clusters: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """(totals, counts) of the non-empty clusters (None and NaN dropped), as one-row arrays."""
    cleaned = [c for c in (_clean(values) for values in clusters) if c.size]
    return np.array([[c.sum() for c in cleaned]]), np.array([[c.size for c in cleaned]], dtype=float)


def clustered_difference(first: list[list[float]], second: list[list[float]], resamples: int = 2000, seed: int = 0,
                         confidence: float = 0.95) -> Estimate:
    """mean(first) - mean(second), each the mean over windows nested in documents, the two sets of documents
    independent (her held-out documents and the control author's); n = documents of both.

    Each side's documents are resampled on their own (one plan each): the variance is the sum of the two CR2
    variances (Welch-Satterthwaite t), widened by the two-sample cluster bootstrap-t once a side has 6 documents.
    Fewer than 3 documents on either side: no interval, and the method says so.
    """
    (t1, c1), (t2, c2) = _cluster_arrays(first), _cluster_arrays(second)
    g1, g2 = t1.shape[1], t2.shape[1]
    if not g1 or not g2:
        return Estimate(NAN, NAN, NAN, g1 + g2, "no values on one side")
    diff, low, high, p, _, _ = inf.difference_intervals(
        (t1, c1), (t2, c2), inf.cluster_plan(g1, resamples, seed), inf.cluster_plan(g2, resamples, seed + 1),
        confidence)
    sides = f"{g1} + {g2} documents, each side resampled on its own"
    if min(g1, g2) < 3:
        return Estimate(float(diff[0]), NAN, NAN, g1 + g2, f"{sides}: no interval (at least 3 a side are needed)")
    if not np.isfinite(low[0]):
        return Estimate(float(diff[0]), NAN, NAN, g1 + g2, f"{sides}: no spread observed, so no interval")
    method = (f"CR2 t (Welch) and two-sample cluster bootstrap-t over {sides}"
              if max(g1, g2) >= inf.MIN_RESAMPLED_CLUSTERS else
              f"CR2 t (Welch) over {sides}: few documents, coverage holds only if their means are roughly symmetric")
    return Estimate(float(diff[0]), float(low[0]), float(high[0]), g1 + g2, method, float(p[0]))


def clustered_ratio(numerator: list[list[float]], denominator: list[list[float]], resamples: int = 2000,
                    seed: int = 0, confidence: float = 0.95) -> Estimate:
    """mean(numerator) / mean(denominator), each over windows nested in documents, the two independent, with
    Fieller's interval (CR2 variances; from 6 documents on a side also calibrated by the two-sample cluster
    bootstrap: `inference.ratio_intervals`).

    A ratio is only worth reading when its denominator is clearly away from 0: when it is not, Fieller's set is
    unbounded, and the estimate is NaN with the reason in `method` (never a huge ratio of two noises). Fewer
    than 3 documents on either side: NaN.
    """
    (tn, cn), (td, cd) = _cluster_arrays(numerator), _cluster_arrays(denominator)
    gn, gd = tn.shape[1], td.shape[1]
    if min(gn, gd) < 3:
        return Estimate(NAN, NAN, NAN, gn + gd, f"{gn} + {gd} documents: undefined (at least 3 a side are needed)")
    ratio, low, high, bounded = inf.ratio_intervals((tn, cn), (td, cd), inf.cluster_plan(gn, resamples, seed),
                                                    inf.cluster_plan(gd, resamples, seed + 1), confidence)
    if not bounded[0]:
        d, vd, dfd = (x[0] for x in inf.cluster_stats(td, cd))
        half = float(sps.t.ppf((1 + confidence) / 2, dfd) * np.sqrt(vd))
        return Estimate(NAN, NAN, NAN, gn + gd, f"undefined: the denominator {d:.3g} [{d - half:.3g}, "
                                                f"{d + half:.3g}] is not clearly away from 0, so any ratio is possible")
    few = "" if max(gn, gd) >= inf.MIN_RESAMPLED_CLUSTERS else (
        ": few documents, coverage holds only if their means are roughly symmetric")
    return Estimate(float(ratio[0]), float(low[0]), float(high[0]), gn + gd,
                    f"Fieller interval, CR2 variances over {gn} + {gd} documents{few}")


def _aligned(values: dict, contrasts, clustered) -> dict[str, np.ndarray]:
    lengths = {arm: len(v) for arm, v in values.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"paired: every arm must answer the same probes, in order; lengths differ: {lengths}")
    unknown = sorted({arm for pair in contrasts for arm in pair} - set(values))
    if unknown:
        raise ValueError(f"paired: contrasts name arms without values: {unknown}; arms are {sorted(values)}")
    if clustered is not None and len(clustered) != next(iter(lengths.values()), 0):
        raise ValueError("paired: clustered= needs one cluster id per probe")
    return {arm: np.array([np.nan if v is None else float(v) for v in vals]) for arm, vals in values.items()}


def _paired_binary(x: np.ndarray, y: np.ndarray, z: float) -> Estimate:
    both = ~(np.isnan(x) | np.isnan(y))
    if not both.any():
        return Estimate(NAN, NAN, NAN, 0, "no probe answered by both arms")
    x, y = x[both], y[both]
    cells = [int(np.sum(x * y)), int(np.sum(x * (1 - y))), int(np.sum((1 - x) * y)), int(np.sum((1 - x) * (1 - y)))]
    low, high = inf.tango(cells[1], cells[2], len(x), z)
    return Estimate(float(np.mean(x - y)), float(low), float(high), int(both.sum()),
                    "paired: Tango score interval; McNemar p", float(inf.mcnemar_p(cells[1], cells[2])))


def paired(values: dict[str, list[float | None]], contrasts: list[tuple[str, str]], binary: bool,
           resamples: int = 2000, seed: int = 0, clustered: list | None = None, confidence: float = 0.95,
           bounds: tuple[float, float] | None = None, clusters: list | None = None) -> dict[tuple[str, str], Estimate]:
    """Each contrast (a, b): the mean of a - b over the probes both arms answered, its interval, and the
    two-sided p-value for no difference; n = probes (or documents) in the contrast.

    Every arm answered the same probes (lists aligned by probe; None = no answer). The probes are resampled
    once, by one plan shared by all contrasts. 0/1 outcomes (binary=True): Tango's score interval and
    McNemar's p (the same score test, so p < 0.05 exactly when the interval excludes 0). Continuous: bootstrap-t of the paired differences and its p. `clustered`, one
    cluster id per probe (the document of each perplexity window): documents are the unit, as in
    `clustered_mean`, with one cluster-resampling plan. `bounds`: the measure's range, which gives contrasts
    whose differences are all equal an interval (see `_constant`). `clusters` is another name for `clustered`.
    """
    clustered = clustered if clustered is not None else clusters
    arrays = _aligned(values, contrasts, clustered)
    if binary:
        for arm, column in arrays.items():
            _check_binary(column[~np.isnan(column)], f"paired: arm {arm}")
    if binary and clustered is None:
        return {(a, b): _paired_binary(arrays[a], arrays[b], inf.z_value(confidence)) for a, b in contrasts}
    diffs = np.array([arrays[a] - arrays[b] for a, b in contrasts]).reshape(len(contrasts), -1)
    valid = ~np.isnan(diffs)
    span = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    if clustered is None:
        centre, low, high, p, count = inf.bootstrap_t(diffs, inf.plan(diffs.shape[1], resamples, seed), confidence)
        method = ["paired bootstrap-t over probes (one plan for all contrasts)"] * len(contrasts)
        enough = count >= 2
    else:
        ids = {c: i for i, c in enumerate(dict.fromkeys(clustered))}
        member = np.eye(len(ids))[[ids[c] for c in clustered]]
        totals, counts = np.where(valid, diffs, 0.0) @ member, valid.astype(float) @ member
        centre, low, high, p, count = inf.cluster_intervals(
            totals, counts, inf.cluster_plan(len(ids), resamples, seed), confidence)
        method = ["paired, " + _cluster_method(int(g)) for g in count]
        enough = count >= 3
    out = {}
    for k, pair in enumerate(contrasts):
        column = diffs[k][valid[k]]
        still = _constant_arm(arrays, pair, valid[k]) if clustered is None and column.size and np.ptp(column) > 0 else None
        if not column.size:
            out[pair] = Estimate(NAN, NAN, NAN, 0, "no probe answered by both arms")
        elif still is not None:
            arm, value = still
            out[pair] = Estimate(float(centre[k]), NAN, NAN, int(count[k]),
                                 f"no variation in {arm}: all {int(count[k])} values equal {value:g}, so the "
                                 "bootstrap-t has no spread of that arm to resample: no interval")
        elif enough[k] and np.ptp(column) == 0:
            out[pair] = _constant(float(centre[k]), int(count[k]), confidence, span, "differences")
        elif not enough[k]:
            out[pair] = Estimate(float(centre[k]), NAN, NAN, int(count[k]), f"{method[k]}: too few for an interval")
        else:
            lo, hi = _clip(low[k], high[k], span)
            out[pair] = Estimate(float(centre[k]), float(lo), float(hi), int(count[k]), method[k], float(p[k]))
    return out


def _constant_arm(arrays: dict, pair: tuple[str, str], both: np.ndarray) -> tuple[str, float] | None:
    """(arm, its value) when one arm of a continuous contrast gave the same value on every probe both answered:
    then the bootstrap-t of the differences is the other arm's alone, and a few tied draws make it explode
    (intervals like [-6.65e+07, -0.05] were seen), so the contrast says so instead of printing an interval."""
    for arm in pair:
        values = arrays[arm][both]
        if values.size and np.ptp(values) == 0:
            return arm, float(values[0])
    return None


def versus_chance(hits: list[float], chance: float, confidence: float = 0.95) -> Estimate:
    """A pick rate (1 = the real answer picked) against chance: Wilson interval and the exact two-sided
    binomial p-value. Below chance is a difference too (the machine answers look more like the author)."""
    if not 0 < chance < 1:
        raise ValueError(f"versus_chance: chance must lie between 0 and 1, got {chance}")
    data = _clean(hits)
    _check_binary(data, "versus_chance")
    if data.size == 0:
        return Estimate(NAN, NAN, NAN, 0, "no picks")
    k, n = int(data.sum()), int(data.size)
    low, high = inf.wilson(k, n, inf.z_value(confidence))
    return Estimate(k / n, float(low), float(high), n, f"Wilson score; exact binomial test against {chance:.3g}",
                    float(inf.binomial_p(n, chance)[k]))


def crossed(responses: list[tuple[str, str, float]], confidence: float = 0.95) -> Estimate:
    """A questionnaire's hit rate from (respondent, item, hit in [0, 1]) triples, generalising over both
    respondents and items: 5 people x 10 items are not 50 independent answers. n = responses.

    One respondent (or one item): the interval covers items (respondents) only, and the method says so.
    """
    seen: dict[tuple[str, str], float] = {}
    for person, item, hit in responses:
        if (person, item) in seen:
            raise ValueError(f"crossed: respondent {person!r} answered item {item!r} twice")
        if not 0 <= float(hit) <= 1:
            raise ValueError(f"crossed: hit {hit!r} of respondent {person!r} is not between 0 and 1")
        seen[(person, item)] = float(hit)
    if not seen:
        return Estimate(NAN, NAN, NAN, 0, "no responses")
    people, items = sorted({p for p, _ in seen}), sorted({i for _, i in seen})
    if len(seen) == 1:
        return Estimate(next(iter(seen.values())), NAN, NAN, 1, "one response: no interval")
    if len(people) == 1 or len(items) == 1:
        one, other, others = (("respondent", "items", "people") if len(people) == 1
                              else ("item", "respondents", "items"))
        values = list(seen.values())
        e = proportion(values, confidence) if np.isin(values, (0, 1)).all() else mean(values, bounds=(0, 1))
        return Estimate(e.mean, e.low, e.high, e.n, f"one {one}: {e.method} over {other} only, "
                                                    f"so it says nothing about other {others}")
    y, answered = np.zeros((len(people), len(items))), np.zeros((len(people), len(items)))
    row, col = {p: i for i, p in enumerate(people)}, {t: j for j, t in enumerate(items)}
    for (person, item), hit in seen.items():
        y[row[person], col[item]], answered[row[person], col[item]] = hit, 1
    grand, low, high, _ = inf.crossed_intervals(y, answered, confidence)
    few = (f" (fewer than {inf.FEW_RESPONDENTS} respondents or items: errs wide)"
           if min(len(people), len(items)) < inf.FEW_RESPONDENTS else "")
    return Estimate(float(grand), float(low), float(high), len(seen), f"crossed random effects: {len(people)} "
                    f"respondents x {len(items)} items, Satterthwaite t{few}")


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment for the declared primary contrasts: the k-th smallest p times (m - k + 1),
    never below an earlier one, at most 1. Keeps the chance of any false claim among them at alpha."""
    if any(p is None or not 0 <= p <= 1 for p in p_values.values()):
        raise ValueError(f"holm: every p-value must lie between 0 and 1: {p_values}")
    adjusted, running = {}, 0.0
    for rank, name in enumerate(sorted(p_values, key=p_values.get)):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[name]))
        adjusted[name] = running
    return {name: adjusted[name] for name in p_values}
