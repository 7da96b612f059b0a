"""Which reading of claim 1's 2 x 2 is specific to her: decided on arms of known truth.

Input: a known-truth pool (bench/validation/known_truth.py's pool.json) holding, besides the usual measures, the loss of
every arm on the control author's held-out documents (`loss on the control author's held-out text`, the
measure `inextricability.loss_measure` makes of `study.control_held_out`), with these arms: base, the author
at one or more doses (A25, A100, ...), the control author (C100: another register-matched author, as many
steps and tokens), and the placebo (P100: a third register-matched author, tuned as if he were her).

For each reading (lib/study/cross_likelihood.py):
- her text alone: (arm - control) on her held-out documents;
- the interaction: (arm - control on hers) - (arm - control on his);
- her text against his: (arm - base on hers) - (arm - base on his), and the inextricability index;
it draws `size` of her documents and `size` of his, with replacement, `draws` times, and counts how often the
placebo is declared "hers" (the author's direction, p < .05), how often each author dose is (power), and how
often each interval covers the pool's own value. A reading passes when the placebo rate is at most 5%, the
25% dose is found at least 80% of the time and coverage is 95 +/- 3.

    python -m bench.validation.claim1_placebo --pool RUN/pool.json --author A100 --doses A25,A100 --control C100 \
        --placebo P100 [--size 5] [--draws 200]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from bench.validation import calibration  # noqa: E402

HER, HIS = "loss on held-out author text", "loss on the control author's held-out text"
READINGS = ("her text alone", "interaction", "her text against his", "inextricability index")


def statistics(her, his, arm: str, control: str, base: str, resamples: int, seed: int) -> dict[str, dict]:
    """Each reading for one arm, through the study's own functions."""
    from lib.study import cross_likelihood as cl
    from lib.study.measures import contrast_rows

    alone = contrast_rows(her, resamples, seed, pairs=[(arm, control)])
    crossed = {(r["arm"], r["against"]): r for r in cl.crossed_rows(her, his, "1", resamples, seed,
                                                                       pairs=[(arm, control), (arm, base)])}
    index = cl.index_rows(her, his, "1", resamples, seed, arms=[arm], base=base)
    return {"her text alone": alone[0] if alone else None, "interaction": crossed.get((arm, control)),
            "her text against his": crossed.get((arm, base)), "inextricability index": index[0] if index else None}


def hers(reading: str, row: dict | None) -> bool:
    """Declared "hers": a loss reading significantly below 0; the index's interval entirely below 1."""
    if not row or not math.isfinite(row.get("ci_high", math.nan)):
        return False
    if reading == "inextricability index":
        return row["ci_high"] < 1
    return row["ci_high"] < 0 and (row.get("p_value") or 1) < 0.05


def covers(row: dict | None, truth: dict | None) -> bool | None:
    if not row or not truth or not all(math.isfinite(x) for x in (row["ci_low"], row["ci_high"], truth["mean"])):
        return None
    return row["ci_low"] <= truth["mean"] <= row["ci_high"]


def decide(pool: dict, doses: list[str], control: str, placebo: str, base: str = "base", size: int = 5,
           draws: int = 200, resamples: int = 2000, seed: int = 0) -> list[dict]:
    """One row per reading: the pool's own value for the largest dose and the placebo, the placebo's rate of
    being called hers, each dose's power, coverage, and whether the reading passes."""
    entries = {e["name"]: e for e in pool["measures"]}
    if HIS not in entries:
        raise SystemExit(f"claim1_placebo: the pool has no '{HIS}' (score study.control_held_out in known_truth)")
    her, his = calibration.to_measure(entries[HER]), calibration.to_measure(entries[HIS])
    arms = [*doses, placebo]
    truth = {arm: statistics(her, his, arm, control, base, resamples, seed) for arm in arms}
    rng = random.Random(seed)
    her_units, his_units = calibration.units_of(her), calibration.units_of(his)
    called = {(arm, r): [] for arm in arms for r in READINGS}
    covered = {r: [] for r in READINGS}
    for d in range(draws):
        mine = calibration.take(her, [rng.choice(her_units) for _ in range(size)])
        theirs = calibration.take(his, [rng.choice(his_units) for _ in range(size)])
        for arm in arms:
            found = statistics(mine, theirs, arm, control, base, resamples, seed + d + 1)
            for reading, row in found.items():
                called[(arm, reading)].append(hers(reading, row))
                hit = covers(row, truth[arm][reading])
                if hit is not None:
                    covered[reading].append(hit)
    rows = []
    for reading in READINGS:
        row = {"reading": reading}
        for arm in (doses[-1], placebo):
            value = truth[arm][reading]
            row[f"pool, {arm}"] = "-" if not value or not math.isfinite(value["mean"]) else (
                f"{value['mean']:+.3g} [{value['ci_low']:+.3g}, {value['ci_high']:+.3g}]")
        row["placebo called hers"] = sum(called[(placebo, reading)]) / draws
        for dose in doses:
            row[f"power, {dose}"] = sum(called[(dose, reading)]) / draws
        row["coverage"] = sum(covered[reading]) / len(covered[reading]) if covered[reading] else math.nan
        row["passes"] = ("yes" if row["placebo called hers"] <= 0.05 and row[f"power, {doses[0]}"] >= 0.8
                         and 0.92 <= row["coverage"] <= 0.98 else "no")
        rows.append(row)
    return rows


def markdown(rows: list[dict], size: int, draws: int) -> str:
    columns = list(rows[0])
    lines = [f"{draws} draws of {size} of her held-out documents and {size} of the control's (with replacement); "
             "called hers = p < .05 toward her (the index: its interval below 1).", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[c]:.0%}" if isinstance(row[c], float) and math.isfinite(row[c])
                                       else str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--doses", default="A25,A100", help="author arms, smallest dose first")
    parser.add_argument("--control", default="C100")
    parser.add_argument("--placebo", default="P100")
    parser.add_argument("--size", type=int, default=5, help="held-out documents per author (the floor)")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    path = Path(args.pool)
    pool = json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_text())
    rows = decide(pool, args.doses.split(","), args.control, args.placebo, size=args.size, draws=args.draws,
                  resamples=args.resamples)
    print(markdown(rows, args.size, args.draws))
    return rows


if __name__ == "__main__":
    main()
