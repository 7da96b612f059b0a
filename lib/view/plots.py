"""Figures: chunk lengths, loss curves (live and final). One function per figure, each returns it.

Figures are plain `matplotlib.figure.Figure` objects, not pyplot's: nothing is shown behind the notebook's
back (a cell shows a figure by ending with it) and nothing piles up in pyplot's global list.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def chunk_lengths(chunks: list[dict], max_tokens: int):
    """Histogram of chunk lengths in tokens, with the limit marked."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    lengths = [c["n_tokens"] for c in chunks]
    ax.hist(lengths, bins=min(40, max(5, len(lengths) // 2)), color="#4c72b0")
    ax.axvline(max_tokens, color="#c44e52", linestyle="--", label=f"limit {max_tokens}")
    ax.set_xlabel("tokens per chunk (BOS and EOS included)")
    ax.set_ylabel("chunks")
    ax.set_title(f"{len(lengths)} chunks, median {sorted(lengths)[len(lengths) // 2] if lengths else 0} tokens")
    ax.legend()
    fig.tight_layout()
    return fig


def loss_curve(log_history: list[dict], title: str = "loss"):
    """Training and evaluation loss against optimiser steps, from a Trainer's log history."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    train = [(r["step"], r["loss"]) for r in log_history if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in log_history if "eval_loss" in r]
    if train:
        ax.plot(*zip(*train), label="train", color="#4c72b0")
    if evals:
        ax.plot(*zip(*evals), "o-", label="evaluation (held-out documents)", color="#dd8452")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    if train or evals:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save(fig, path: str | Path) -> Path:
    from ..files import storage

    with storage.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    return Path(path)


# --- the probe study -------------------------------------------------------------------------------

ARM_COLOURS = {"base": "#8c8c8c", "stage 1": "#4c72b0", "stage 1 + 2": "#dd8452", "SFT only": "#55a868",
               "retrieval": "#8172b3"}
REFERENCE_STYLES = [("#c44e52", "--"), ("#2a7a2a", ":"), ("#6a3d9a", "-.")]


def measure_panels(panels: list[dict], title: str, missing: dict[str, str] | None = None):
    """One panel per computed measure: a bar per arm with its 95% interval, the measure's unit on the y axis,
    its reference lines in a legend. `panels`: {"measure", "ylabel", "rows" (arm rows with mean, ci_low,
    ci_high), "reference" {label: value}}. An arm without a value gets no bar and its tick says so; an arm
    whose interval could not be computed gets no error bar. `missing` {measure: why} is written under the
    panels, never drawn as an empty panel. Returns None when no measure has a value to draw."""
    import numpy as np

    from .display import finite

    panels = [p for p in panels if any(finite(r["mean"]) for r in p["rows"])]
    if not panels:
        return None
    note = "; ".join(f"{name}: {why}" for name, why in (missing or {}).items())
    fig = Figure(figsize=(3.4 * len(panels), 3.9 + (0.35 if note else 0)))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        rows = panel["rows"]
        means = np.array([r["mean"] if finite(r["mean"]) else np.nan for r in rows], dtype=float)
        x = np.arange(len(rows))
        drawn = ~np.isnan(means)
        ax.bar(x[drawn], means[drawn], color=[ARM_COLOURS.get(r["arm"], "#64b5cd") for r, d in zip(rows, drawn) if d])
        for i, r in enumerate(rows):
            if finite(r["mean"]) and finite(r["ci_low"]) and finite(r["ci_high"]):
                low, high = min(r["ci_low"], r["mean"]), max(r["ci_high"], r["mean"])
                ax.errorbar(i, r["mean"], yerr=[[r["mean"] - low], [high - r["mean"]]], color="black", capsize=3,
                            linewidth=1)
        labels = [r["arm"] + ("" if finite(r["ci_low"]) and finite(r["ci_high"]) else
                              "\n(no interval)" if finite(r["mean"]) else "\n(no value)") for r in rows]
        ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
        ax.set_title(wrap(panel["measure"], 32), fontsize=9)
        ax.set_ylabel(wrap(panel["ylabel"], 40), fontsize=8)
        for (name, value), (colour, style) in zip(panel.get("reference", {}).items(), REFERENCE_STYLES):
            if finite(value):
                ax.axhline(value, color=colour, linestyle=style, linewidth=1, label=name)
        if panel.get("reference"):
            ax.legend(fontsize=7, loc="best")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title + " (bars: estimate; black lines: 95% intervals)", fontsize=10)
    if note:
        fig.text(0.01, 0.01, wrap("Not drawn, no value: " + note, 40 * len(panels)), fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.06 if note else 0, 1, 1))
    return fig


def forest(rows: list[dict], title: str = "Primary contrasts"):
    """The primary contrasts on one axis: each difference with its 95% interval, a line at zero (no
    difference), filled where it survives Holm's correction. `rows`: {"label", "mean", "ci_low", "ci_high",
    "survives"}. Each difference is in its own measure's unit (the label, written above its row, says which).
    Narrow, with the labels above the rows, so that it still reads on a phone."""
    from matplotlib.lines import Line2D

    from .display import finite

    fig = Figure(figsize=(5.2, 1.5 + 0.8 * max(1, len(rows))))
    ax = fig.subplots()
    for i, row in enumerate(reversed(rows)):
        solid = bool(row.get("survives"))
        if finite(row["ci_low"]) and finite(row["ci_high"]):
            ax.plot([row["ci_low"], row["ci_high"]], [i, i], color="#333333", linewidth=1.5)
        ax.plot(row["mean"], i, "o", markersize=7, color="#1a5fb4", markerfacecolor="#1a5fb4" if solid else "white")
        text = row["label"].replace("\n", ": ") + ("" if finite(row["ci_low"]) and finite(row["ci_high"]) else
                                                    " (no interval)")
        ax.annotate(text, (0, i), xycoords=("axes fraction", "data"), xytext=(3, 7),
                    textcoords="offset points", fontsize=8, va="bottom")
    ax.axvline(0, color="#c44e52", linestyle="--", linewidth=1)
    ax.set_yticks([])
    ax.set_ylim(-0.5, len(rows) - 0.1)
    ax.set_xlabel("paired difference, arm minus comparison\n(each in its measure's unit, given above its row)",
                  fontsize=8)
    ax.set_title(title, fontsize=9)
    handles = [Line2D([], [], color="#c44e52", linestyle="--", label="0 = no difference"),
               Line2D([], [], color="#333333", label="95% interval"),
               Line2D([], [], marker="o", color="#1a5fb4", linestyle="", label="survives Holm"),
               Line2D([], [], marker="o", color="#1a5fb4", markerfacecolor="white", linestyle="",
                      label="does not survive Holm")]
    fig.legend(handles=handles, fontsize=7, loc="lower center", ncol=2, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    return fig


def wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join("\n".join(textwrap.wrap(line, width)) or line for line in str(text).split("\n"))
