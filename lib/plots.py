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
