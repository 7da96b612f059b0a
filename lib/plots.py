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
    from . import storage

    with storage.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    return Path(path)


# --- the probe study -------------------------------------------------------------------------------

ARM_COLOURS = {"base": "#8c8c8c", "stage 1": "#4c72b0", "stage 1 + 2": "#dd8452", "SFT only": "#55a868",
               "retrieval": "#8172b3"}


def measure_panels(rows: list[dict], measures: list[str], title: str, reference: dict | None = None):
    """One panel per measure: a bar per arm with its 95% interval.

    `reference` maps a measure to a horizontal line worth drawing (chance, the real author's value).
    """
    import numpy as np

    present = [m for m in measures if any(r["measure"] == m for r in rows)]
    fig = Figure(figsize=(3.3 * max(1, len(present)), 3.4))
    axes = fig.subplots(1, max(1, len(present)), squeeze=False)[0]
    for ax, measure in zip(axes, present):
        chosen = [r for r in rows if r["measure"] == measure]
        means = np.array([r["mean"] for r in chosen], dtype=float)
        errors = np.array([[r["mean"] - r["ci_low"], r["ci_high"] - r["mean"]] for r in chosen], dtype=float).T
        errors = np.clip(np.nan_to_num(errors), 0, None)  # an interval not centred on the mean keeps its ends
        ax.bar(range(len(chosen)), np.nan_to_num(means), yerr=errors, capsize=3,
               color=[ARM_COLOURS.get(r["arm"], "#64b5cd") for r in chosen])
        ax.set_xticks(range(len(chosen)), [r["arm"] for r in chosen], rotation=35, ha="right", fontsize=8)
        ax.set_title(measure, fontsize=9)
        if reference and measure in reference:
            ax.axhline(reference[measure], color="#c44e52", linestyle="--", linewidth=1)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
