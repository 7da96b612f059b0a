"""Uncertainty for every measure: bootstrap 95% intervals over the probes (scipy.stats.bootstrap).

A measure is a list of per-probe values for one arm (a score, or 1/0 for pass/fail). Its estimate is the
mean; the interval resamples probes, so it says how much the number would move with another draw of
probes like these. It says nothing about another author or another model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int
    p_value: float | None = None
    method: str = ""

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n, "p_value": self.p_value,
                "method": self.method}

    def __str__(self) -> str:
        return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}]"


def bootstrap_mean(values, resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> Estimate:
    """Mean and percentile bootstrap interval; a single value or constant values get a zero-width interval."""
    from scipy.stats import bootstrap

    data = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    if data.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(data.mean())
    if data.size == 1 or np.all(data == data[0]):
        return Estimate(mean, mean, mean, int(data.size))
    result = bootstrap((data,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
                       random_state=np.random.default_rng(seed))
    return Estimate(mean, float(result.confidence_interval.low), float(result.confidence_interval.high),
                    int(data.size))


def proportion(values, confidence: float = 0.95) -> Estimate:
    """A share of 0/1 values with its Wilson score interval (never zero-width)."""
    from scipy.stats import norm

    data = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    p, z = float(data.mean()), float(norm.ppf(0.5 + confidence / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


# --- SHIMS (replaced by issue-11s) -----------------------------------------------------------------------
def mean(values, resamples=2000, seed=0, confidence=0.95):
    from scipy.stats import t
    data = np.asarray([v for v in values if v is not None and not np.isnan(v)], dtype=float)
    n = data.size
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    m = float(data.mean()); s = float(data.std(ddof=1)) if n > 1 else 0.0
    h = t.ppf(0.975, max(1, n - 1)) * max(s, 1e-9) / np.sqrt(n)
    return Estimate(m, m - h, m + h, n)


def clustered_mean(clusters, resamples=2000, seed=0):
    means = [np.mean(c) for c in clusters if len(c)]
    e = mean(means)
    allv = [v for c in clusters for v in c]
    return Estimate(float(np.mean(allv)) if allv else float("nan"), e.low, e.high, len(means))


def paired(values, contrasts, binary=False, resamples=2000, seed=0, clusters=None):
    from scipy.stats import ttest_1samp
    out = {}
    for a, b in contrasts:
        d = [x - y for x, y in zip(values[a], values[b]) if x is not None and y is not None]
        e = mean(d)
        p = float(ttest_1samp(d, 0).pvalue) if len(d) > 1 and np.std(d) > 0 else 1.0
        out[(a, b)] = Estimate(e.mean, e.low, e.high, e.n, p)
    return out


def versus_chance(hits, chance):
    from scipy.stats import binomtest
    data = [h for h in hits if h is not None]
    e = proportion(data)
    p = binomtest(int(sum(data)), len(data), chance).pvalue if data else float("nan")
    return Estimate(e.mean, e.low, e.high, e.n, p)


def holm(p):
    items = sorted(p.items(), key=lambda kv: kv[1]); m = len(items); out = {}; run = 0
    for i, (k, v) in enumerate(items):
        run = max(run, min(1, (m - i) * v)); out[k] = run
    return out


def minimum_detectable_effect(n, kind, baseline, sd=None, power=0.8, alpha=0.05):
    from scipy.stats import norm
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(z * np.sqrt(baseline * (1 - baseline) / max(n, 1)) * (1.4 if kind == "paired_proportion" else 1))
