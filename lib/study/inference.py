"""The vectorised cores behind `lib.study.stats`: intervals, tests and power, for many data sets at once.

`stats` wraps each core for one measure and returns an `Estimate`; tests/test_stats.py calls the same cores
on thousands of simulated data sets to measure their coverage, so what is measured is what the study runs.
Arrays in, arrays out; NaN marks a missing value (a probe an arm did not answer).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq
from scipy.special import gammaln, xlogy

NAN = float("nan")
CHUNK = 4_000_000            # array cells per bootstrap block: ~100 MB at any number of intervals
MIN_RESAMPLED_CLUSTERS = 6   # from here on the cluster bootstrap-t widens the CR2 interval
FEW_RESPONDENTS = 10         # below this the crossed interval errs wide (97-99%)


def z_value(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def wilson(x, n, z: float):
    """Wilson score interval for x successes in n (arrays allowed; n may be fractional: an effective size)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.where(p <= 0, 0.0, np.clip(centre - half, 0, 1)), np.where(p >= 1, 1.0, np.clip(centre + half, 0, 1))


def binomial_p(n: int, p: float) -> np.ndarray:
    """Exact two-sided binomial p-value of every count 0..n: the probability of the outcomes no likelier than
    it (scipy.stats.binomtest's rule), for all counts at once."""
    pmf = sps.binom.pmf(np.arange(n + 1), n, p)
    order = np.sort(pmf)
    cumulative = np.concatenate([[0.0], np.cumsum(order)])
    return np.minimum(1.0, cumulative[np.searchsorted(order, pmf * (1 + 1e-7), side="right")])


def _quantiles(t: np.ndarray, confidence: float) -> np.ndarray:
    """Equal-tailed quantiles of bootstrap statistics per row (order statistics); NaN for a row without any
    (no data, or constant data, which the callers answer otherwise)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(t, [(1 - confidence) / 2, (1 + confidence) / 2], axis=-1, method="inverted_cdf")


def _tail_p(t: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value: twice the smaller share of resampled t beyond the observed one (at least
    one resample's worth). With `_quantiles` it is below 1 - confidence exactly when the interval excludes 0."""
    valid = (~np.isnan(t)).sum(-1)
    upper = (t >= observed[..., None]).sum(-1)
    lower = (t <= observed[..., None]).sum(-1)
    return np.clip(2 * np.minimum(upper, lower) / valid, 1 / valid, 1.0)


def _studentize(estimate, resampled, se_resampled, se):
    """(resampled - estimate) / its se. A resample without spread (all draws alike: common with tied values)
    is scaled by the data's own se instead, so a few such draws cannot make the interval unbounded. Its se
    comes from sums of squares whose rounding leaves ~1e-8 of the data's se where there is no spread at all,
    so anything under 1e-6 of it counts as none (1e-9 let [-6.65e+07, -0.05] through on mostly-zero rates)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (resampled - estimate) / np.where(se_resampled > 1e-6 * se, se_resampled, se)


# --- independent units -------------------------------------------------------------------------------

def plan(n: int, resamples: int, seed: int) -> np.ndarray:
    """Which probes each resample draws: (resamples, n) indices. One plan serves every arm and contrast."""
    return np.random.default_rng(seed).integers(0, n, (resamples, n))


def bootstrap_t(data, draws: np.ndarray, confidence: float = 0.95):
    """Bootstrap-t (studentized bootstrap) for the mean of each row of `data` (NaN = missing), every row
    resampled by the same `draws` (from `plan`). Returns arrays (mean, low, high, p for a mean of 0, count).

    Each resample's sums are a product with the matrix of how often it draws each probe, so thousands of
    rows cost one matrix product; values are centred first so that sums of squares keep their precision.
    """
    data = np.atleast_2d(np.asarray(data, dtype=float))
    valid = ~np.isnan(data)
    count = valid.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(valid, data, 0.0).sum(1) / count
        x = np.where(valid, data - mean[:, None], 0.0)
        se = np.sqrt((x ** 2).sum(1) / (count - 1) / count)
        times = np.zeros((len(draws), data.shape[1]))
        np.add.at(times, (np.arange(len(draws))[:, None], draws), 1.0)
        c, s1, s2 = valid @ times.T, x @ times.T, (x ** 2) @ times.T
        shift = s1 / c                                    # resampled mean minus the mean
        ses = np.sqrt(np.maximum(s2 - c * shift ** 2, 0) / (c - 1) / c)
        t = np.where(c > 0, _studentize(0.0, shift, np.where(c > 1, ses, 0.0), se[:, None]), np.nan)
        q_low, q_high = _quantiles(t, confidence)
        p = _tail_p(t, mean / se)
    return mean, mean - q_high * se, mean - q_low * se, p, count


# --- values nested in clusters --------------------------------------------------------------------------

def cluster_stats(totals, counts):
    """Ratio mean, CR2 variance and Bell-McCaffrey degrees of freedom per row of cluster totals and sizes.

    The mean counts every value (window) once. CR2 scales each cluster's residual total by (1 - n_g/N)^-1/2,
    which removes most of the small-sample bias of the usual cluster-robust variance; the degrees of freedom
    (tr B)^2 / tr(B^2) are those of that variance under independent errors (B = sum_g c_g^2 v_g v_g',
    v_g = (I - 11'/N) 1_g), so uneven clusters get fewer than G - 1. Empty clusters are ignored.
    """
    totals, counts = np.atleast_2d(totals).astype(float), np.atleast_2d(counts).astype(float)
    size = counts.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a row with no values gives NaN, which callers drop
        ratio = totals.sum(1) / size
        weight = np.where(counts > 0, 1 / (1 - counts / size[:, None]), 0.0) / size[:, None] ** 2
        variance = (weight * (totals - ratio[:, None] * counts) ** 2).sum(1)
        inner = (np.einsum("kg,gh->kgh", counts, np.eye(counts.shape[1]))
                 - counts[:, :, None] * counts[:, None, :] / size[:, None, None])
        trace = (weight * np.diagonal(inner, axis1=1, axis2=2)).sum(1)
        df = trace ** 2 / np.einsum("kg,kh,kgh->k", weight, weight, inner ** 2)
    return ratio, variance, df


def cluster_plan(clusters: int, resamples: int, seed: int) -> np.ndarray:
    """How often each cluster is drawn in each resample: (resamples, clusters) counts, shared by all rows."""
    return np.random.default_rng(seed).multinomial(clusters, np.full(clusters, 1 / clusters), size=resamples)


def cluster_intervals(totals, counts, draws: np.ndarray, confidence: float = 0.95):
    """Interval of the ratio mean of each row of cluster totals and sizes, and the p-value for a mean of 0.

    CR2 with Bell-McCaffrey t always; from MIN_RESAMPLED_CLUSTERS non-empty clusters on, widened to also hold
    the cluster bootstrap-t (clusters resampled by `draws`): on skewed document effects CR2 alone covered
    90-92%, the union 93-95%. Fewer than 3 clusters: NaN. Returns arrays (mean, low, high, p, clusters).
    """
    totals, counts = np.atleast_2d(totals).astype(float), np.atleast_2d(counts).astype(float)
    ratio, variance, df = cluster_stats(totals, counts)
    groups = (counts > 0).sum(1)
    w = draws.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(variance)
        q = sps.t.ppf((1 + confidence) / 2, df)
        low, high = ratio - q * se, ratio + q * se
        p = 2 * sps.t.sf(np.abs(ratio / se), df)
        rows = max(1, CHUNK // w.size)
        for start in range(0, len(totals), rows):
            part = slice(start, start + rows)
            tot, cnt = totals[part][:, None, :], counts[part][:, None, :]
            size = (w * cnt).sum(2)
            resampled = (w * tot).sum(2) / size
            weight = np.where(cnt > 0, w / (1 - cnt / size[..., None]), 0.0)
            var = (weight * (tot - resampled[..., None] * cnt) ** 2).sum(2) / size ** 2
            t = _studentize(ratio[part, None], resampled, np.sqrt(var), se[part, None])
            q_low, q_high = _quantiles(t, confidence)
            use = groups[part] >= MIN_RESAMPLED_CLUSTERS
            low[part] = np.where(use, np.minimum(low[part], ratio[part] - q_high * se[part]), low[part])
            high[part] = np.where(use, np.maximum(high[part], ratio[part] - q_low * se[part]), high[part])
            p[part] = np.where(use, np.maximum(p[part], _tail_p(t, ratio[part] / se[part])), p[part])
    none = groups < 3
    low[none], high[none], p[none] = NAN, NAN, NAN
    return ratio, low, high, p, groups


# --- two independent sets of clusters (her documents and the control author's) ----------------------------

def _resampled_cr2(totals, counts, draws):
    """Each row's ratio mean and CR2 variance under every resample of its clusters (`draws`: counts per
    cluster, from `cluster_plan`): arrays (rows, resamples)."""
    w = draws.astype(float)[None, :, :]
    tot, cnt = totals[:, None, :], counts[:, None, :]
    size = (w * cnt).sum(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (w * tot).sum(2) / size
        weight = np.where(cnt > 0, w / (1 - cnt / size[..., None]), 0.0)
        variance = (weight * (tot - ratio[..., None] * cnt) ** 2).sum(2) / size ** 2
    return ratio, variance


def difference_intervals(first, second, draws_first: np.ndarray, draws_second: np.ndarray,
                         confidence: float = 0.95):
    """Interval of (ratio mean of `first`) - (ratio mean of `second`) per row, each a (totals, counts) pair of
    cluster arrays, the two sets of clusters independent (different documents: hers and the control's).

    The variance is the sum of the two CR2 variances, with Welch-Satterthwaite degrees of freedom from each
    side's Bell-McCaffrey ones. Once either side has MIN_RESAMPLED_CLUSTERS documents the interval is widened
    to also hold the bootstrap-t that resamples the two sides independently (`draws_first`, `draws_second`),
    as `cluster_intervals` does for one side (uneven sides, 3 and 8, covered 92% without it, 94-95% with it).
    Fewer than 3 clusters on either side: NaN. Returns arrays
    (difference, low, high, p for a difference of 0, clusters of first, clusters of second).
    """
    (t1, c1), (t2, c2) = ((np.atleast_2d(t).astype(float), np.atleast_2d(c).astype(float)) for t, c in (first, second))
    r1, v1, df1 = cluster_stats(t1, c1)
    r2, v2, df2 = cluster_stats(t2, c2)
    g1, g2 = (c1 > 0).sum(1), (c2 > 0).sum(1)
    diff, variance = r1 - r2, v1 + v2
    with np.errstate(divide="ignore", invalid="ignore"):
        df = variance ** 2 / (v1 ** 2 / df1 + v2 ** 2 / df2)
        se = np.sqrt(variance)
        q = sps.t.ppf((1 + confidence) / 2, df)
        low, high = diff - q * se, diff + q * se
        p = 2 * sps.t.sf(np.abs(diff / se), df)
        rows = max(1, CHUNK // (draws_first.size + draws_second.size))
        for start in range(0, len(diff), rows):
            part = slice(start, start + rows)
            use = np.maximum(g1[part], g2[part]) >= MIN_RESAMPLED_CLUSTERS
            if not use.any():
                continue
            a, va = _resampled_cr2(t1[part], c1[part], draws_first)
            b, vb = _resampled_cr2(t2[part], c2[part], draws_second)
            t = _studentize(diff[part, None], a - b, np.sqrt(va + vb), se[part, None])
            q_low, q_high = _quantiles(t, confidence)
            low[part] = np.where(use, np.minimum(low[part], diff[part] - q_high * se[part]), low[part])
            high[part] = np.where(use, np.maximum(high[part], diff[part] - q_low * se[part]), high[part])
            p[part] = np.where(use, np.maximum(p[part], _tail_p(t, diff[part] / se[part])), p[part])
    none = (g1 < 3) | (g2 < 3)
    low[none], high[none], p[none] = NAN, NAN, NAN
    return diff, low, high, p, g1, g2


def fieller(numerator, var_numerator, denominator, var_denominator, df, confidence: float = 0.95):
    """Fieller's interval for numerator / denominator, two independent estimates with their variances: the
    ratios R whose t statistic (numerator - R denominator) / sqrt(var_n + R^2 var_d) is within the t quantile.

    The set is a bounded interval exactly when the denominator differs from 0 at the same level (|d| / se_d
    above the quantile); otherwise it is unbounded and the ratio says nothing: low and high are NaN. Returns
    arrays (ratio, low, high, bounded).
    """
    n, vn, d, vd = (np.asarray(x, dtype=float) for x in (numerator, var_numerator, denominator, var_denominator))
    q2 = sps.t.ppf((1 + confidence) / 2, df) ** 2
    a = d ** 2 - q2 * vd
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(q2 * (n ** 2 * vd + d ** 2 * vn - q2 * vn * vd), 0.0))
        ratio = n / d
        low, high = (n * d - root) / a, (n * d + root) / a
    bounded = a > 0
    return ratio, np.where(bounded, low, NAN), np.where(bounded, high, NAN), bounded


def _fieller_root(n, vn, d, vd, q, upper: bool):
    """The ratio R where (n - R d) / sqrt(vn + R^2 vd) equals q, on the side of n / d that `upper` asks for
    (the statistic falls as R rises while the set is bounded); NaN where no such bounded root exists."""
    a = d ** 2 - q ** 2 * vd
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(q ** 2 * (vn * a + n ** 2 * vd), 0.0))
        value = (n * d + (root if upper else -root)) / a
    return np.where(a > 0, value, NAN)


def ratio_intervals(numerator, denominator, draws_numerator: np.ndarray, draws_denominator: np.ndarray,
                    confidence: float = 0.95):
    """Interval of (ratio mean of `numerator`) / (ratio mean of `denominator`) per row, each a (totals, counts)
    pair of cluster arrays, the two independent: Fieller's interval with CR2 variances and Satterthwaite degrees
    of freedom at the estimate; once either side has MIN_RESAMPLED_CLUSTERS documents, widened to also hold
    Fieller's interval calibrated by the two-sample cluster bootstrap (the quantiles of the resampled
    statistic (n* - R d*) / sqrt(vn* + R^2 vd*) at the estimate R in place of t's): with skewed document
    effects and a numerator near 0, t alone covered 90-91% at 8-12 documents. Unbounded (the denominator not
    clearly away from 0): NaN. Returns arrays (ratio, low, high, bounded).
    """
    (tn, cn), (td, cd) = ((np.atleast_2d(t).astype(float), np.atleast_2d(c).astype(float))
                          for t, c in (numerator, denominator))
    n, vn, dfn = cluster_stats(tn, cn)
    d, vd, dfd = cluster_stats(td, cd)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = n / d
        df = (vn + ratio ** 2 * vd) ** 2 / (vn ** 2 / dfn + ratio ** 4 * vd ** 2 / dfd)
    df = np.where(np.isfinite(df) & (df > 0), df, np.minimum(dfn, dfd))
    _, low, high, bounded = fieller(n, vn, d, vd, df, confidence)
    use = np.maximum((cn > 0).sum(1), (cd > 0).sum(1)) >= MIN_RESAMPLED_CLUSTERS
    rows = max(1, CHUNK // (draws_numerator.size + draws_denominator.size))
    for start in range(0, len(ratio), rows):
        part = slice(start, start + rows)
        if not use[part].any():
            continue
        a, va = _resampled_cr2(tn[part], cn[part], draws_numerator)
        b, vb = _resampled_cr2(td[part], cd[part], draws_denominator)
        r, scale = ratio[part, None], np.sqrt(vn[part] + ratio[part] ** 2 * vd[part])[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = _studentize(0.0, a - r * b, np.sqrt(va + r ** 2 * vb), scale)
        q_low, q_high = _quantiles(t, confidence)
        args = (n[part], vn[part], d[part], vd[part])
        boot_low, boot_high = _fieller_root(*args, q_high, False), _fieller_root(*args, q_low, True)
        # the t statistic falls as R rises: its upper quantile gives the lower end; q_low < 0 < q_high expected
        boot_low = np.where(q_high > 0, boot_low, NAN)
        boot_high = np.where(q_low < 0, boot_high, NAN)
        ok = use[part] & np.isfinite(boot_low) & np.isfinite(boot_high)
        low[part] = np.where(ok, np.fmin(low[part], boot_low), low[part])
        high[part] = np.where(ok, np.fmax(high[part], boot_high), high[part])
        unbounded = use[part] & ~ok
        low[part], high[part] = np.where(unbounded, NAN, low[part]), np.where(unbounded, NAN, high[part])
        bounded[part] = bounded[part] & ~unbounded
    return ratio, low, high, bounded


# --- paired 0/1 outcomes ----------------------------------------------------------------------------------

def _tango_z(b, c, n, delta):
    """Tango's score statistic for H0: p10 - p01 = delta, with p01 at its maximum likelihood under H0."""
    quad_b = -b - c + (2 * n - b + c) * delta
    p01 = (np.sqrt(np.maximum(quad_b ** 2 + 8 * n * c * delta * (1 - delta), 0)) - quad_b) / (4 * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (b - c - n * delta) / np.sqrt(n * np.maximum(2 * p01 + delta * (1 - delta), 0))
    return np.where(np.isnan(t), 0.0, t)


def tango(b, c, n, z: float = 1.959964):
    """Tango's (1998) score interval for p10 - p01 of n paired 0/1 outcomes, b = pairs (1, 0), c = (0, 1).

    The deltas whose score test is not rejected, found by bisection (vectorised over tables). Recommended for
    paired proportions by Fagerland, Lydersen & Laake (2014); exact coverage here stays at or above ~94% from
    n = 8 (Newcombe's hybrid score fell to 85% at n = 8), and it is never zero-width.
    """
    b, c, n = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(b, c, n))
    limits = []
    for target in (z, -z):                      # the statistic falls as delta rises: low end first
        lo, hi = np.full(b.shape, -1.0), np.full(b.shape, 1.0)
        for _ in range(50):
            mid = (lo + hi) / 2
            above = _tango_z(b, c, n, mid) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        limits.append((lo + hi) / 2)
    return limits[0], limits[1]


def mcnemar_p(b, c):
    """McNemar's test without continuity correction, |b - c| / sqrt(b + c) against the normal: the score test
    that Tango's interval inverts (so p < 0.05 exactly when the interval excludes 0); its size stays near 5%
    from small n (Fagerland et al. 2013), where the exact conditional test is needlessly conservative."""
    b, c = np.asarray(b, dtype=float), np.asarray(c, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * sps.norm.sf(np.abs(b - c) / np.sqrt(b + c))
    return np.where(b + c > 0, p, 1.0)


# --- respondents x items ------------------------------------------------------------------------------------

def crossed_intervals(hits, answered, confidence: float = 0.95):
    """Grand mean of respondent x item tables of hits in [0, 1] (stacked (..., R, I); `answered` marks the
    cells present), with its interval when both respondents and items are random samples.

    The variance of the grand mean in a two-way crossed random-effects design, in moment form:
    s2(respondent means)/R + s2(item means)/I - MSE/N, never below MSE/N (the variance were people and items
    all alike), with Satterthwaite degrees of freedom from its three parts. It errs wide below
    FEW_RESPONDENTS respondents (97-99% at 3-5; without the floor it covered 90% at 3). When the variance
    is 0 or the mean sits at 0 or 1, the interval is Wilson's with min(R, I) as the sample size and the t
    quantile (no spread seen: as if only the fewer units counted). Returns arrays (mean, low, high, df);
    R and I must both be at least 2.
    """
    y, m = np.asarray(hits, dtype=float), np.asarray(answered, dtype=float)
    respondents, items = y.shape[-2], y.shape[-1]
    n = m.sum((-2, -1))
    grand = (y * m).sum((-2, -1)) / n
    row, col = (y * m).sum(-1) / m.sum(-1), (y * m).sum(-2) / m.sum(-2)
    error_df = np.maximum(n - respondents - items + 1, 1)
    residual = (y - row[..., :, None] - col[..., None, :] + grand[..., None, None]) * m
    a, b = row.var(-1, ddof=1) / respondents, col.var(-1, ddof=1) / items
    c = (residual ** 2).sum((-2, -1)) / error_df / n
    variance = np.maximum(a + b - c, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = variance ** 2 / (a ** 2 / (respondents - 1) + b ** 2 / (items - 1) + c ** 2 / error_df)
    df = np.where(np.isfinite(df), np.maximum(df, 1.0), min(respondents, items) - 1)
    q = sps.t.ppf((1 + confidence) / 2, df)
    low, high = np.clip(grand - q * np.sqrt(variance), 0, 1), np.clip(grand + q * np.sqrt(variance), 0, 1)
    flat = (variance <= 0) | (grand <= 0) | (grand >= 1)
    w_low, w_high = wilson(grand * min(respondents, items), min(respondents, items), q)
    return grand, np.where(flat, w_low, low), np.where(flat, w_high, high), df


# --- power ------------------------------------------------------------------------------------------------

def binomial_power(n: int, p0: float, p1, alpha: float = 0.05) -> np.ndarray:
    """Exact power of the two-sided binomial test of p0 when the rate is p1 (array)."""
    reject = binomial_p(n, p0) <= alpha
    return (sps.binom.pmf(np.arange(n + 1)[None, :], n, np.atleast_1d(p1)[:, None]) * reject).sum(1)


def mcnemar_power(n: int, p10, p01, alpha: float = 0.05) -> np.ndarray:
    """Exact power of `mcnemar_p` at level alpha with n pairs and discordant cells p10, p01 (arrays): the
    trinomial probability of every (b, c) the test rejects."""
    p10, p01 = np.atleast_1d(p10).astype(float), np.atleast_1d(p01).astype(float)
    b, c = (v.ravel() for v in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    b, c = b[b + c <= n], c[b + c <= n]
    rejected = mcnemar_p(b, c) <= alpha
    b, c = b[rejected], c[rejected]
    log_coef = gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(n - b - c + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = (log_coef[None, :] + xlogy(b[None, :], p10[:, None]) + xlogy(c[None, :], p01[:, None])
                 + xlogy((n - b - c)[None, :], 1 - p10[:, None] - p01[:, None]))
    return np.exp(log_p).sum(1)


def t_power(n: int, effect: float, sd: float, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample (or paired) t test: noncentral t, n - 1 df, d sqrt(n) / sd."""
    crit, shift = sps.t.ppf(1 - alpha / 2, n - 1), effect * math.sqrt(n) / sd
    lower = sps.nct.cdf(-crit, n - 1, shift)  # NaN from scipy far in the tail (shift ~13 at 4 df): it is ~0 there
    return float(sps.nct.sf(crit, n - 1, shift) + (0.0 if math.isnan(lower) else lower))


def minimum_detectable_effect(n: int, kind: str, baseline: float, sd: float | None = None, power: float = 0.8,
                              alpha: float = 0.05, discordance: float | None = None) -> float:
    """The smallest true effect (upward, in the measure's units) that n probes detect with the given power, by
    the two-sided tests the study uses, with exact power (no normal approximation):

    - "proportion": a rate p1 = baseline + d against baseline (e.g. chance), exact binomial test:
      power(p1) = sum of Bin(k; n, p1) over the counts k the test rejects.
    - "paired_proportion": arm a at baseline + d against arm b at baseline, McNemar's score test:
      power = the trinomial probability of the (b, c) it rejects (discordant cells p10, p01; psi = p10 + p01).
      psi (the discordant share) is `discordance` if given, else that of independent arms,
      p_a(1 - p_b) + p_b(1 - p_a): the worst case when arms agree on probes more than by chance.
    - "mean": a mean (or mean paired) difference d, t test: P(|T| > t_{n-1, 1-alpha/2}), T noncentral t with
      n - 1 df and noncentrality d sqrt(n)/sd (`baseline` plays no part).
    NaN when no effect in range reaches the power.
    """
    if kind == "mean":
        if not sd or sd <= 0:
            raise ValueError("minimum_detectable_effect: kind 'mean' needs sd > 0")
        top = 2 * (sps.t.ppf(1 - alpha / 2, n - 1) + 4) * sd / math.sqrt(n)
        return float(brentq(lambda d: t_power(n, d, sd, alpha) - power, 1e-9 * sd, top))
    step = np.linspace(0, 1, 2001)[1:]
    if kind == "proportion":
        effect = step * (1 - baseline)
        achieved = binomial_power(n, baseline, baseline + effect, alpha)
    elif kind == "paired_proportion" and discordance is None:
        effect = step * (1 - baseline)
        achieved = mcnemar_power(n, (baseline + effect) * (1 - baseline), (1 - baseline - effect) * baseline, alpha)
    elif kind == "paired_proportion":
        effect = step * discordance
        achieved = mcnemar_power(n, (discordance + effect) / 2, (discordance - effect) / 2, alpha)
    else:
        raise ValueError(f"minimum_detectable_effect: kind must be proportion, paired_proportion or mean, "
                         f"not {kind!r}")
    enough = np.nonzero(achieved >= power)[0]
    return float(effect[enough[0]]) if enough.size else NAN
