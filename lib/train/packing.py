"""Packing chunks into rows without letting one chunk attend to another, at any micro-batch size.

TRL's best-fit-decreasing packing fills each row of `max_seq_length` tokens with whole chunks (it records
each chunk's length). Its own collator then flattens the whole micro-batch into ONE row: fine for
FlashAttention's variable-length kernel, but with PyTorch's SDPA (what a T4, an A100 without flash-attn
and this project use) attention over 8 x 2048 tokens becomes one 16,384-token block-diagonal mask: eight
times the attention work and memory. This collator keeps one packed row per example instead: a (batch,
length) tensor whose position ids restart at every chunk and with no attention mask, from which
transformers builds a per-row block-diagonal causal mask. A padded tail counts as a chunk of its own and
carries no labels; the first token of every chunk carries none either (nothing before it may predict it).
With `width` every row is padded to that many tokens, and with `rows` a short last batch gets empty rows
(all padding, no labels): one shape for every batch, which compiled layers need (a new shape recompiles).

Stage 2 packs question-answer pairs the same way: TRL has already put -100 on every prompt token, so the
labels stay on the answers and their closing `<|eot_id|>`, and no pair sees another.
"""

from __future__ import annotations

import math


def examples_per_row(lengths: list[int], width: int) -> float:
    """How many examples of these token lengths share one row of `width` tokens once packed (best-fit packing
    fills rows all but completely when examples are short next to the row)."""
    if not lengths:
        return 1.0
    tokens = sum(min(n, width) for n in lengths)
    return max(1.0, len(lengths) / max(1, math.ceil(tokens / width)))


class RowPackedCollator:
    def __init__(self, pad_token_id: int, width: int | None = None, rows: int | None = None):
        self.pad_token_id = pad_token_id
        self.width = width
        self.rows = rows

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        examples = list(examples) + [{"input_ids": []}] * max(0, (self.rows or 0) - len(examples))
        width = max([len(e["input_ids"]) for e in examples] + [self.width or 0])
        ids = torch.full((len(examples), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(examples), width), -100, dtype=torch.long)
        positions = torch.zeros((len(examples), width), dtype=torch.long)
        for row, example in enumerate(examples):
            n = len(example["input_ids"])
            ids[row, :n] = torch.as_tensor(example["input_ids"])
            labels[row, :n] = torch.as_tensor(example.get("labels", example["input_ids"]))
            lengths = list(example.get("seq_lengths") or [n])
            if width > n:
                lengths.append(width - n)  # the padding: a separate block, unlabelled
            positions[row] = torch.cat([torch.arange(length) for length in lengths])
        labels[positions == 0] = -100
        return {"input_ids": ids, "labels": labels, "position_ids": positions}
