"""How many held-out documents claim 1's headline needs, measured: power by resampling the known-truth pool,
and what each held-out design costs on a GPU.

The pool (bench/results/known_truth_h100/pool.json.gz, `bench/validation/known_truth.py` on an H100) keeps the loss of
every arm on every 256-token window of the author's 16 held-out essays. A draw takes n of those documents at
random with replacement (as bench/validation/calibration.py does) and runs the study's own statistics on them
(`lib.study.measures.contrast_rows`: the paired contrast by document; `lib.study.stats.clustered_difference`:
the 2 x 2 interaction, her documents and the control's resampled independently). Power = the share of draws
whose p-value is at most alpha with the effect in its true direction, at alpha .05 and at Holm's worst case
for the declared family (alpha / m, m = the number of `primary_contrasts` in lib/settings/config.py).

Effects, all from the pool:
- "A 25% - base": the smallest dose (a quarter of the default steps) against the base model, -0.030 nats.
- "A 100% - other author B": the author arm against an arm tuned on another essayist for as many steps:
  what "stage 1 - control stage 1" on her text is when the control is less register-matched, -0.082 nats.
- "A 100% - register-matched control": the same windows with the difference's mean moved to -0.030 nats,
  the author-vs-placebo gap measured on a register-matched pair (4.23 vs 4.26 nats, H200, 2026-12-04), keeping
  the document-to-document spread of two different authors' arms.
- "interaction, mirror": (A - C on her text) - (A - C on his text), his side a second independent draw of the
  same documents with the sign turned (the control arm as much better on his text as hers is on hers);
  "interaction, his side flat": the control arm no better at home (the difference centred on 0 there).

    python -m bench.validation.held_out_power [--pool FILE] [--draws 400] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from bench.validation import calibration  # noqa: E402

POOL = ROOT / "bench" / "results" / "known_truth_h100" / "pool.json.gz"
SIZES = (3, 4, 5, 6, 8, 12, 25)
MATCHED_GAP = -0.030          # author arm vs register-matched placebo on her held-out text (H200, 2026-12-04)
TARGET = 0.80

# cost model inputs, each measured in this repository (README, Performance; bench/results/*.json)
H100_STAGE1 = dict(tokens=798_072, compile_s=22.9, overhead_s=113 - 57.1)   # second round, Schopenhauer, 3 epochs
H100_STAGE2_SHARE = 268_254 / 798_072                                       # stage 2's tokens per stage-1 token
H200_TOKENS_PER_S = {"T4 profile": 15_162, "default profile": 25_143}       # performance_h200.json, 2048 tokens
H200_TFLOPS = 790                                                           # bf16 matrix rate measured on it
GPUS = {"T4": (65, ("T4 profile", "T4 profile")), "A100": (312, ("T4 profile", "default profile"))}
SEED_TOKENS_PER_DOCUMENT = 798_072 / 3 / 25   # the seed's 25 documents ~ the Schopenhauer essays (266k an epoch)
SAMPLE_TOKENS_PER_DOCUMENT = 8_570 * 1.33 / 12  # the sample: 8,570 words in 12 essays, ~1.33 tokens a word


def load_pool(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_text())


def held_out_measure(pool: dict):
    entry = next(e for e in pool["measures"] if e["name"] == "loss on held-out author text")
    measure = calibration.to_measure(entry)
    a, b = measure.values["A100"], measure.values["B"]
    diffs = [x - y for x, y in zip(a, b) if x is not None and y is not None]
    shift = sum(diffs) / len(diffs) - MATCHED_GAP
    measure.values["B matched"] = [None if v is None else v + shift for v in b]
    return measure


def document_differences(measure, arm: str, against: str, chosen: list[list[int]], sign: float = 1.0,
                         centre: bool = False) -> list[list[float]]:
    """Per drawn document, the window differences arm - against (times `sign`; `centre`: minus the pool's
    mean difference, so that side carries spread and no effect)."""
    a, b = measure.values[arm], measure.values[against]
    mean = 0.0
    if centre:
        every = [x - y for x, y in zip(a, b) if x is not None and y is not None]
        mean = sum(every) / len(every)
    return [[sign * (a[i] - b[i] - mean) for i in unit if a[i] is not None and b[i] is not None] for unit in chosen]


def power(measure, sizes, draws: int, resamples: int, alphas: dict[str, float], seed: int = 0) -> list[dict]:
    """Power of each effect at each number of held-out documents, by resampling documents from the pool."""
    from lib.study import measures, stats

    units = calibration.units_of(measure)
    pairs = [("A25", "base"), ("A100", "B"), ("A100", "B matched")]
    names = {("A25", "base"): "A 25% - base", ("A100", "B"): "A 100% - other author B",
             ("A100", "B matched"): "A 100% - register-matched control (-0.030)"}
    rng = random.Random(seed)
    rows = []
    for n in sizes:
        found: dict[str, list[tuple[float, float]]] = {}
        for d in range(draws):
            her, his = ([rng.choice(units) for _ in range(n)] for _ in range(2))
            for row in measures.contrast_rows(calibration.take(measure, her), resamples, seed + d, pairs=pairs):
                found.setdefault(names[(row["arm"], row["against"])], []).append((row["mean"], row["p_value"]))
            for against, label in (("B", "-0.082"), ("B matched", "-0.030")):
                mine = document_differences(measure, "A100", against, her)
                for side, kwargs in (("mirror", dict(sign=-1.0)), ("his side flat", dict(sign=-1.0, centre=True))):
                    e = stats.clustered_difference(mine, document_differences(measure, "A100", against, his, **kwargs),
                                                   resamples, seed + d)
                    found.setdefault(f"interaction, {side} (her side {label})", []).append((e.mean, e.p_value))
        for effect, results in found.items():
            row = {"effect": effect, "documents": n}
            for name, alpha in alphas.items():
                row[name] = float(np.mean([m < 0 and p is not None and p <= alpha for m, p in results]))
            rows.append(row)
    return rows


def widening_cost(measure, sizes, draws: int, resamples: int, alpha: float, seed: int = 0) -> list[dict]:
    """Power of "A 100% - register-matched control" with the CR2 t alone and with the study's interval (CR2
    widened by the cluster bootstrap-t from 6 documents on): what the widening costs where it starts."""
    from scipy import stats as sps

    from lib.study import inference as inf

    units, rng = calibration.units_of(measure), random.Random(seed)
    rows = []
    for n in sizes:
        alone = union = 0
        for d in range(draws):
            chosen = document_differences(measure, "A100", "B matched", [rng.choice(units) for _ in range(n)])
            totals = np.array([[sum(c) for c in chosen]])
            counts = np.array([[len(c) for c in chosen]], dtype=float)
            ratio, variance, df = inf.cluster_stats(totals, counts)
            alone += ratio[0] < 0 and 2 * sps.t.sf(abs(ratio[0]) / np.sqrt(variance[0]), df[0]) <= alpha
            _, _, _, p, _ = inf.cluster_intervals(totals, counts, inf.cluster_plan(n, resamples, seed + d))
            union += ratio[0] < 0 and p[0] <= alpha
        rows.append({"documents": n, "CR2 t alone": alone / draws, "the study's interval": union / draws})
    return rows


def gpu_cost(documents: int, held_out: int, folds: int | None, tokens_per_document: float) -> dict[str, str]:
    """Predicted training time of both authors (stage 1 + stage 2, 3 epochs) on a T4 and an A100: tokens over
    each GPU's predicted rate (the H200's measured tokens/s of the profile it uses, scaled by its matrix rate
    over the H200's measured 790 TFLOP/s), plus the per-run overhead measured on the H100 (compiling the first
    step, loading). Cross-fitting trains `folds` models per author, each on (folds - 1) / folds of her text."""
    runs = folds or 1
    share = (folds - 1) / folds if folds else (documents - held_out) / documents
    tokens = 2 * runs * share * documents * tokens_per_document * 3 * (1 + H100_STAGE2_SHARE)
    overhead = 2 * runs * 2 * (H100_STAGE1["compile_s"] + H100_STAGE1["overhead_s"])
    out = {}
    for gpu, (tflops, profiles) in GPUS.items():
        rates = [H200_TOKENS_PER_S[p] * tflops / H200_TFLOPS for p in profiles]
        times = sorted((tokens / rate + overhead) / 60 for rate in rates)
        out[gpu] = f"{times[0]:.0f}" if round(times[0]) == round(times[-1]) else f"{times[0]:.0f}-{times[-1]:.0f}"
    return out


def designs() -> list[dict]:
    """The held-out designs at the sample's 12 documents and the seed's 25."""
    rows = []
    for documents, per_doc, corpus in ((12, SAMPLE_TOKENS_PER_DOCUMENT, "sample (12)"),
                                       (25, SEED_TOKENS_PER_DOCUMENT, "seed corpus (25)")):
        old = max(1, round(0.1 * documents))
        for name, held, folds in ((f"val_fraction 0.1 alone ({old} held out)", old, None),
                                  ("floor of 5 held out (min_held_out_documents)", max(old, 5), None),
                                  (f"cross-fitting, {4 if documents == 12 else 5} folds by document", documents,
                                   4 if documents == 12 else 5)):
            cost = gpu_cost(documents, held if not folds else 0, folds, per_doc)
            train = documents - held if not folds else documents - documents // folds
            rows.append({"corpus": corpus, "design": name, "held-out documents": held,
                         "documents each model trains on": train, "models per author": folds or 1,
                         "T4 training minutes (both authors)": cost["T4"],
                         "A100 training minutes (both authors)": cost["A100"]})
    return rows


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[c]:.0%}" if isinstance(row[c], float) else str(row[c])
                                       for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    from lib.settings import config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", default=str(POOL))
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args(argv)
    family = len(config.PRIMARY_CONTRASTS)
    alphas = {"alpha .05": 0.05, f"alpha .05/{family} (Holm's worst case)": 0.05 / family}
    started = time.time()
    measure = held_out_measure(load_pool(Path(args.pool)))
    every = document_differences(measure, "A100", "B", calibration.units_of(measure))
    spread = float(np.std([np.mean(d) for d in every], ddof=1))
    rows = power(measure, [int(s) for s in args.sizes.split(",")], args.draws, args.resamples, alphas)
    wide: dict[str, dict] = {}
    for row in rows:
        for name in alphas:
            entry = wide.setdefault((row["effect"], name), {"effect": row["effect"], "alpha": name})
            entry[f"n={row['documents']}"] = row[name]
    columns = ["effect", "alpha"] + [f"n={n}" for n in sorted({r["documents"] for r in rows})]
    text = (f"Power (share of {args.draws} draws with p <= alpha, right direction), by held-out documents per author; "
            f"pool: {args.pool}; {time.time() - started:.0f} s; sd of per-document mean differences A 100% - B: "
            f"{spread:.4f} nats (lib/study/report.py KNOWN_TRUTH_DOCUMENT_SD)\n\n" + table(list(wide.values()), columns)
            + "\n\nHeld-out designs and their predicted training time (both authors, stages 1 + 2, 3 epochs):\n\n"
            + table(designs(), list(designs()[0])))
    cost = widening_cost(held_out_measure(load_pool(Path(args.pool))), [5, 6, 8, 12], args.draws, args.resamples,
                         0.05 / family)
    text += (f"\n\nWhat the bootstrap-t widening costs (A 100% - register-matched control, alpha .05/{family}):\n\n"
             + table(cost, list(cost[0])))
    print(text)
    return {"power": rows, "designs": designs(), "widening": cost}


if __name__ == "__main__":
    main()
