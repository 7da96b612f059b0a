"""The combined known-truth table (bench/validation/known_truth.py --combine DIR...): every declared primary contrast
(config.yaml `primary_contrasts`) with its verdict over finished (pair, seed) folders.

A primary keeps its place in the headline only when all four hold:
- dose-response: in every folder, her-minus-control moves the author's way from dose 0 (the base model against
  itself: 0) through 25, 100 (and 300)% and is called hers at 100% on the whole pool;
- placebo: the placebo (a third register-mate tuned in her place) against the control is called hers in at most
  5% of the draws, pooled over pairs, seeds and draws;
- power: her 25% arm against its matched control is called hers in at least 80% of the draws (pooled so);
- coverage: 95 +/- 3% of the 95% intervals (every dose and the placebo) cover the pool's own value.
"Called hers" = the 95% interval excludes 0 on the author's side (two-sided p < .05 in her direction), at the
study's default sizes, drawn with replacement from the pool, whose own value is the truth. A primary that
fails any of them leaves the headline; one this bench cannot measure is named with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLACEBO_MAX, POWER_MIN, COVERAGE = 0.05, 0.80, (0.92, 0.98)
NOT_TESTED = {
    "instruction compliance": "claim 2 needs a chat model following instructions: the population model was never "
                              "chat-tuned, and its stage 2 is 29M parameters of template pairs",
    "follows the new statement": "claim 2 needs a chat model that reads a new statement and answers from it",
    "support by the author's passages": "claim 4 needs answers beside retrieved passages in a chat model's "
                                        "register, and its own oracle arms (bench/oracle)",
}


def declared() -> list[str]:
    """The declared primaries, as config.yaml names them."""
    from lib.settings import config

    return list(config.load_config(ROOT / "config.yaml").primary_contrasts)


def read_folders(folders: list[Path]) -> list[dict]:
    """Every finished folder's checks.json (a folder without one is skipped, and said so)."""
    found = []
    for folder in folders:
        path = Path(folder) / "checks.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
        else:
            print(f"known_truth: {folder}: no checks.json (unfinished); left out of the combined table")
    return found


def rate(k: int, n: int) -> float:
    return k / n if n else math.nan


def combine_reading(name: str, runs: list[dict]) -> dict:
    """One reading over the folders: dose-response in each, pooled placebo rate, power, coverage; the verdict."""
    entries = [(r["pair"], r["seed"], c) for r in runs for c in r["checks"] if c["reading"] == name]
    measured = [(p, s, c) for p, s, c in entries if "missing" not in c]
    if not measured:
        why = next((c["missing"] for *_, c in entries), "no finished folder measured it")
        return {"primary": name, "verdict": "not tested", "reason": why, "folders": 0}
    total = {k: sum(c[k] for *_, c in measured) for k in ("draws", "placebo_hers", "dose25_hers", "covered",
                                                           "intervals")}
    placebo, power = rate(total["placebo_hers"], total["draws"]), rate(total["dose25_hers"], total["draws"])
    coverage = rate(total["covered"], total["intervals"])
    dose_ok = [c["dose_response"] for *_, c in measured]
    failures = []
    if not all(dose_ok):
        bad = [f"{p} seed {s}" for (p, s, c) in measured if not c["dose_response"]]
        failures.append(f"no dose-response in {', '.join(bad)}")
    if not placebo <= PLACEBO_MAX:
        failures.append(f"the placebo is called hers in {placebo:.1%} of draws (> {PLACEBO_MAX:.0%})")
    if not power >= POWER_MIN:
        failures.append(f"power at the 25% dose {power:.1%} (< {POWER_MIN:.0%})")
    if not COVERAGE[0] <= coverage <= COVERAGE[1]:
        failures.append(f"coverage {coverage:.1%} (outside {COVERAGE[0]:.0%}-{COVERAGE[1]:.0%})")
    per_folder = [{"pair": p, "seed": s, "doses": {str(d["dose"]): d.get("mean") for d in c["doses"]},
                   "placebo": c["placebo"].get("mean"), "placebo_hers_on_pool": c["placebo"]["hers"],
                   "dose_response": c["dose_response"]} for p, s, c in measured]
    return {"primary": name, "declared": runs and measured[0][2].get("primary", False), "folders": len(measured),
            "dose_response": f"{sum(dose_ok)}/{len(dose_ok)} folders", "placebo_rate": placebo, "power_25": power,
            "coverage": coverage, "draws": total["draws"], "intervals": total["intervals"],
            "verdict": "passes" if not failures else "leaves the headline",
            "reason": "; ".join(failures) or "dose-response, placebo, power and coverage all hold",
            "per_folder": per_folder}


def combine(folders: list[Path], primaries: list[str] | None = None) -> dict:
    """The combined table: every declared primary with a verdict, then the secondary readings."""
    runs = read_folders(folders)
    primaries = declared() if primaries is None else primaries
    measured = {c["reading"] for r in runs for c in r["checks"]}
    rows = []
    for name in primaries:
        if name in measured:
            rows.append(combine_reading(name, runs))
        else:
            why = next((v for k, v in NOT_TESTED.items() if name.startswith(k)), "not measured by this bench")
            rows.append({"primary": name, "verdict": "not tested", "reason": why, "folders": 0})
    secondary = [combine_reading(n, runs) for n in sorted(measured - set(primaries))]
    return {"folders": [{"pair": r["pair"], "seed": r["seed"], "writers": r.get("writers"),
                         "device": r.get("device")} for r in runs], "primaries": rows, "secondary": secondary,
            "rule": {"placebo_max": PLACEBO_MAX, "power_min": POWER_MIN, "coverage": COVERAGE,
                     "called_hers": "95% interval excludes 0 on the author's side (two-sided p < .05 her way), "
                                    "at the study's default sizes drawn with replacement from the pool"}}


def pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def markdown(result: dict) -> str:
    """The combined table as markdown: the folders, then one row per primary, then the secondary readings."""
    lines = ["# Known truth on the control design", "",
             "Folders: " + "; ".join(f"{f['pair']} seed {f['seed']} (A {f['writers']['A']}, C {f['writers']['C']}, "
                                     f"P {f['writers']['P']})" for f in result["folders"] if f.get("writers")), "",
             f"Called hers: {result['rule']['called_hers']}. Placebo rate and power pooled over pairs, seeds and "
             "draws; coverage over every dose's and the placebo's intervals.", "",
             "| primary | dose-response | placebo called hers | power at 25% | coverage | verdict | reason |",
             "|---|---|---|---|---|---|---|"]
    for group in ("primaries", "secondary"):
        if group == "secondary" and result["secondary"]:
            lines += ["", "Secondary (reported, never a headline):", "",
                      "| reading | dose-response | placebo called hers | power at 25% | coverage | verdict | reason |",
                      "|---|---|---|---|---|---|---|"]
        for row in result[group]:
            verdict = "**passes**" if row["verdict"] == "passes" else row["verdict"]
            lines.append(f"| {row['primary']} | {row.get('dose_response', '-')} | {pct(row.get('placebo_rate'))} | "
                         f"{pct(row.get('power_25'))} | {pct(row.get('coverage'))} | {verdict} | {row['reason']} |")
    leaving = [r["primary"] for r in result["primaries"] if r["verdict"] == "leaves the headline"]
    lines += ["", "Leaves the headline: " + ("; ".join(leaving) if leaving else "none") + "."]
    return "\n".join(lines)


def write(folders: list[Path], out: Path) -> dict:
    from lib.files import storage

    result = combine(folders)
    storage.write_json(out / "combined.json", result)
    text = markdown(result)
    storage.write_text(out / "combined.md", text + "\n")
    print(text)
    return result
