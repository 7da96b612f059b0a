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

    def as_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}

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
