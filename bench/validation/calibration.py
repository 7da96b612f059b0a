"""Calibration of the study's statistics on a real model's outputs: draw many probe sets of the study's
default sizes from a large pool of probes whose values are known for every arm, and count how often each
interval covers the pool's own value, how often a placebo arm is declared different from the base model,
and how often the smallest dose is detected.

The pool is the population: a draw takes the default number of units (probes, or documents for measures
resampled by document) from it at random **with replacement**, so each draw is an independent sample of the
pool and the pool's own value (the same estimator on the whole pool) is the truth the intervals aim at.
Every estimate and interval comes from `lib.study.measures` (`arm_rows`, `contrast_rows`), so this measures
whatever statistics the study uses at the time it runs.

    python -m bench.validation.calibration --pool DIR/pool.json --out DIR [--draws 200]
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NOMINAL = 0.95


def to_measure(entry: dict):
    """A `lib.study.measures.Measure` from its pool entry."""
    from lib.study.measures import Measure

    bounds = entry.get("bounds")
    return Measure(entry.get("claim", ""), entry["name"], entry["unit"], entry["kind"], entry.get("direction", ""),
                   entry.get("cannot_show", ""), values={a: list(v) for a, v in entry["values"].items()},
                   clusters=entry.get("clusters"), bounds=tuple(bounds) if bounds else None)


def units_of(measure) -> list[list[int]]:
    """The resampling units: one per probe, or the indices of each cluster's values (documents)."""
    if measure.clusters is None:
        return [[i] for i in range(measure.n_units())]
    groups: dict[str, list[int]] = {}
    for i, cluster in enumerate(measure.clusters):
        groups.setdefault(cluster, []).append(i)
    return list(groups.values())


def take(measure, chosen: list[list[int]]):
    """A measure restricted to the chosen units (a unit chosen twice counts twice, as a cluster of its own)."""
    from lib.study.measures import Measure

    indices = [i for unit in chosen for i in unit]
    out = Measure(measure.claim, measure.name, measure.unit, measure.kind, measure.direction, measure.cannot_show,
                  values={arm: [v[i] for i in indices] for arm, v in measure.values.items()}, bounds=measure.bounds)
    if measure.clusters is not None:
        out.clusters = [f"{measure.clusters[unit[0]]}#{k}" for k, unit in enumerate(chosen) for _ in unit]
    return out


def estimates(measure, pairs: list[tuple[str, str]], resamples: int, seed: int) -> dict:
    """{arm: row} and {(arm, against): row} through the study's own functions."""
    from lib.study.measures import arm_rows, contrast_rows

    arms = {row["arm"]: row for row in arm_rows(measure, resamples, seed)}
    pairs = [p for p in pairs if p[0] in measure.values and p[1] in measure.values]
    contrasts = {(row["arm"], row["against"]): row for row in contrast_rows(measure, resamples, seed, pairs=pairs)}
    return {"arms": arms, "contrasts": contrasts}


def covers(row: dict, truth: float) -> bool | None:
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return None
    return low <= truth <= high


def significant(row: dict, sign: int = 0) -> bool:
    """The interval excludes 0 (in the direction `sign` when it is not 0)."""
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return False
    if sign > 0:
        return low > 0
    if sign < 0:
        return high < 0
    return low > 0 or high < 0


def interval_type(entry: dict, contrast: bool) -> str:
    kind = "0/1" if entry["kind"] == "proportion" else "mean"
    if entry.get("clusters") is not None:
        kind = "by document"
    return f"{'paired contrast' if contrast else 'one arm'}, {kind}"


def calibrate(pool: dict, draws: int = 200, resamples: int = 2000, seed: int = 0) -> dict:
    """Coverage per interval type, placebo false-positive rates and the power to detect the smallest dose."""
    base, dose, placebos = pool["base"], pool["smallest_dose"], pool["placebos"]
    pairs = [(arm, base) for arm in pool["arms"] if arm != base] + [tuple(p) for p in pool.get("extra_contrasts", [])]
    rng = random.Random(seed)
    out = {"draws": draws, "resamples": resamples, "nominal": NOMINAL, "measures": []}
    for entry in pool["measures"]:
        measure = to_measure(entry)
        units = units_of(measure)
        size = entry["default_size"]
        truth = estimates(measure, pairs, resamples, seed)
        hits: dict[str, list] = {}
        rejections: dict[str, list[bool]] = {}
        methods: set[str] = set()
        for d in range(draws):
            drawn = estimates(take(measure, [rng.choice(units) for _ in range(size)]), pairs, resamples, seed + d + 1)
            for arm, row in drawn["arms"].items():
                hits.setdefault(interval_type(entry, False), []).append(covers(row, truth["arms"][arm]["mean"]))
                methods.add(row.get("method") or "")
            for pair, row in drawn["contrasts"].items():
                hits.setdefault(interval_type(entry, True), []).append(covers(row, truth["contrasts"][pair]["mean"]))
                methods.add(row.get("method") or "")
                rejections.setdefault(f"{pair[0]} - {pair[1]}", []).append(significant(row))
                if entry.get("sign"):  # declared different in the author's direction: a false author effect
                    rejections.setdefault(f"{pair[0]} - {pair[1]}, toward", []).append(significant(row, entry["sign"]))
                if pair == (dose, base) and entry.get("sign"):
                    rejections.setdefault("power", []).append(significant(row, entry["sign"]))
        coverage = {}
        for kind, found in hits.items():
            scored = [h for h in found if h is not None]
            coverage[kind] = {"coverage": sum(scored) / len(scored) if scored else None, "intervals": len(scored),
                              "no_interval": len(found) - len(scored)}
        placebo = {}
        for arm in placebos:
            key = f"{arm} - {base}"
            row = truth["contrasts"].get((arm, base))
            if key in rejections and row:
                toward = rejections.get(f"{key}, toward")
                placebo[arm] = {"rejection_rate": sum(rejections[key]) / len(rejections[key]),
                                "toward_author_rate": sum(toward) / len(toward) if toward else None,
                                "pool_contrast": row["mean"], "pool_interval": [row["ci_low"], row["ci_high"]],
                                "pool_p": row.get("p_value"), "pool_units": row.get("n")}
        power = rejections.get("power")
        out["measures"].append({
            "measure": entry["name"], "primary": entry.get("primary", False), "unit": entry["unit"],
            "pool_units": len(units), "default_size": size, "coverage": coverage, "placebo": placebo,
            "power_smallest_dose": sum(power) / len(power) if power else None,
            "pool_dose_contrast": truth["contrasts"].get((dose, base), {}).get("mean"),
            "methods": sorted(m for m in methods if m)})
    return out


def markdown(result: dict, labels: dict[str, str]) -> str:
    """Coverage, placebo rejection rates and power as markdown tables."""
    lines = [f"{result['draws']} draws of the default sizes from the pool (with replacement); "
             f"nominal coverage {result['nominal']:.0%}.", "",
             "| measure | units in pool | drawn | interval | coverage | intervals (none) |",
             "|---|---|---|---|---|---|"]
    for m in result["measures"]:
        for kind, c in m["coverage"].items():
            value = "-" if c["coverage"] is None else f"{c['coverage']:.1%}"
            lines.append(f"| {m['measure']} | {m['pool_units']} | {m['default_size']} | {kind} | {value} | "
                         f"{c['intervals']} ({c['no_interval']}) |")
    lines += ["", "| measure | primary | placebo | declared different from base (toward the author) | "
                  "pool's own contrast [95%] | power, smallest dose |", "|---|---|---|---|---|---|"]
    for m in result["measures"]:
        power = "-" if m["power_smallest_dose"] is None else f"{m['power_smallest_dose']:.0%}"
        for arm, p in m["placebo"].items():
            low, high = p["pool_interval"]
            toward = "" if p.get("toward_author_rate") is None else f" ({p['toward_author_rate']:.1%})"
            lines.append(f"| {m['measure']} | {'yes' if m['primary'] else ''} | {labels.get(arm, arm)} | "
                         f"{p['rejection_rate']:.1%}{toward} | {fmt(p['pool_contrast'])} [{fmt(low)}, {fmt(high)}] | "
                         f"{power} |")
    return "\n".join(lines)


def fmt(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.3g}"


def main() -> None:
    import argparse

    from lib.files import storage

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", required=True, help="pool.json written by bench/validation/known_truth.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    pool = json.loads(Path(args.pool).read_text())
    result = calibrate(pool, args.draws, args.resamples)
    storage.write_json(Path(args.out) / "calibration.json", result)
    text = markdown(result, pool.get("labels", {}))
    storage.write_text(Path(args.out) / "calibration.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
