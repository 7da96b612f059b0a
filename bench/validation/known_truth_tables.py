"""The known-truth experiment's tables and figure (bench/validation/known_truth.py): the population model, the arms, the
authorship measure's own check, each measure per arm with its interval, the verdicts, one panel per measure."""

from __future__ import annotations

import math
from pathlib import Path

from bench.validation.known_truth_study import ARMS, DOSES, LABELS, PLACEBOS


def cell(row: dict | None) -> str:
    if not row or row.get("n", 0) == 0:
        return "-"
    low, high = row.get("ci_low"), row.get("ci_high")
    interval = "" if low is None or math.isnan(low) else f" [{low:.3g}, {high:.3g}]"
    return f"{row['mean']:.3g}{interval}"


def markdown(report: dict) -> str:
    """The population model, the arms, the authorship check, the known-truth table and the verdicts."""
    pop, arms = report["population_model"], report["arms"]
    trained = pop["pretraining"]
    lines = [f"# Known truth: {report['date']}, {report['device']}", "", f"`{report['command']}`", "",
             f"Statistics: {report.get('statistics', '')}", "",
             f"Population model: {pop['parameters'] / 1e6:.1f}M parameters, vocabulary {pop['vocab']}, "
             f"{pop['stream_tokens'] / 1e6:.1f}M tokens of {pop['books']['train']} books; {trained['steps']} steps of "
             f"{trained['batch']} x {trained['seq']} tokens ({trained['epochs']} epochs) in {trained['seconds']} s "
             f"({trained['tokens_per_second']:,} tokens/s); training loss {trained['train_loss_last_50']}, held-out "
             f"loss {pop['held_out']['loss']} (perplexity {pop['held_out']['perplexity']}) on "
             f"{pop['held_out']['windows']} windows of {pop['held_out']['authors']} authors never seen. "
             f"Decoded as Latin-1: {', '.join(pop['decoded_as_latin1']) or 'none'}.", ""]
    lines += [f"- greedy: *{s['prompt']}* {s['continuation']!r}" for s in pop["greedy_samples"]]
    lines += ["", f"Arms (default number of stage-1 steps: {arms['default_steps']}):", "",
              "| run | stage | steps | tokens | seconds | final train / eval loss |", "|---|---|---|---|---|---|"]
    for run in arms["runs"]:
        final = run["final"] or {}
        lines.append(f"| {run['run']} | {run['stage']} | {run['steps']} | {run['tokens']:,} | {run['seconds']} | "
                     f"{final.get('train_loss', '-')} / {final.get('eval_loss', '-')} |")
    check = report["authorship_check"]
    lines += ["", f"Authorship measure's own check at {check['words']} words: sensitivity "
              f"{check['sensitivity']['mean']:.2f} (n={check['sensitivity']['n']}), specificity "
              f"{check['specificity']['mean']:.2f} (n={check['specificity']['n']}), fit: {check['fit']}.", ""]
    found = {(r["measure"], r["arm"]): r for r in report["table"]}
    lines += ["| measure (units) | " + " | ".join(LABELS[a] for a in ARMS) + " |", "|---|" + "---|" * len(ARMS)]
    for v in report["verdicts"]:
        lines.append(f"| {v['measure']} ({v['units']}) | " + " | ".join(cell(found.get((v["measure"], a)))
                                                                     for a in ARMS) + " |")
    lines += ["", "| measure | expected with dose | monotone | detected 25 / 100 / 300% | placebo B | shuffled A | "
                  "passes (dose-response, no placebo toward A) | both placebos flat |",
              "|---|---|---|---|---|---|---|---|"]
    for v in report["verdicts"]:
        if "monotone" not in v:
            lines.append(f"| {v['measure']} | {v['expected']} | | | | | | |")
            continue
        detected = " / ".join("yes" if v["detected"][a] else "no" for a in DOSES[1:])
        lines.append(f"| {v['measure']}{' (primary)' if v['primary'] else ''} | {v['expected']} | "
                     f"{'yes' if v['monotone'] else 'no'} | {detected} | {v['placebos']['B']} | "
                     f"{v['placebos']['shufA']} | {'**yes**' if v['passes'] else 'no'} | "
                     f"{('yes' if v['flat'] else 'no') if v['author_specific'] else 'n/a (any tuning forgets)'} |")
    lines += [f"- {v['measure']}: {v['note']}" for v in report["verdicts"] if v.get("note")]
    lines += ["", "Not run: " + "; ".join(f"{k} ({why})" for k, why in report["not_run"].items()) + "."]
    return "\n".join(lines)


def figure(report: dict, path: Path) -> Path:
    """One panel per measure: the estimate against dose (0/25/100/300%), placebos and stage 2 beside it."""
    from matplotlib.figure import Figure

    from lib.view import plots

    names = [v["measure"] for v in report["verdicts"]]
    found = {(r["measure"], r["arm"]): r for r in report["table"]}
    fig = Figure(figsize=(3.2 * 4, 3.0 * math.ceil(len(names) / 4)))
    axes = fig.subplots(math.ceil(len(names) / 4), 4, squeeze=False).ravel()
    spots = {"base": 0, "A25": 1, "A100": 2, "A300": 3, "B": 4.4, "shufA": 5.4, "A100+s2": 6.4}
    for ax, name in zip(axes, names):
        for arm, x in spots.items():
            row = found.get((name, arm))
            if not row or row.get("n", 0) == 0:
                continue
            low, high = row["ci_low"], row["ci_high"]
            err = [[0], [0]] if low is None or math.isnan(low) else \
                [[max(0, row["mean"] - low)], [max(0, high - row["mean"])]]
            ax.errorbar([x], [row["mean"]], yerr=err, fmt="o" if arm in DOSES else "s", capsize=3,
                        color="#4c72b0" if arm in DOSES else "#c44e52" if arm in PLACEBOS else "#55a868")
        ax.set_xticks(list(spots.values()), ["0", "25", "100", "300", "B", "shuf", "+s2"], fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"Known truth: dose of A (% of default steps), placebos, stage 2 ({report['device']})")
    fig.tight_layout()
    return plots.save(fig, path)
