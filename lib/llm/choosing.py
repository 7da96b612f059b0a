"""Choosing each row's next token as Hugging Face's `generate` chooses it, and sampling from a stream per row.

The logits in fp32, then the repetition penalty and the minimum length (per row: rows decoding together are
at different lengths), then, when sampling, temperature and top-p (`generate`'s own warpers) and a draw.
The draw adds Gumbel noise and takes the argmax, which samples from softmax(scores); the noise comes from a
hash of the row's seed, its token count and the vocabulary index, so a row's draws depend on its seed alone,
not on which rows share its batch or on a global random state.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """How a pool of rows chooses tokens (shared by every row decoding together)."""
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    min_new_tokens: int = 0
    repetition_penalty: float = 1.0


def mix32(x):
    """A 32-bit integer hash (two multiply-xorshift rounds) on int64 tensors holding values below 2**32; the
    products stay below 2**63, so nothing overflows."""
    x = x & 0xFFFFFFFF
    x = ((x >> 16) ^ x) * 0x45D9F3B & 0xFFFFFFFF
    x = ((x >> 16) ^ x) * 0x45D9F3B & 0xFFFFFFFF
    return (x >> 16) ^ x


def gumbel(seeds, counts, columns):
    """Gumbel noise per row and vocabulary entry from (row seed, tokens made so far, entry): adding it to the
    scores and taking the argmax draws from softmax(scores), a draw that depends on nothing else."""
    import torch

    row = mix32(mix32(seeds) ^ mix32(counts + 0x632BE5AB))
    bits = mix32(row[:, None] ^ columns[None, :]) >> 8  # 24 random bits, exact in float32
    uniform = (bits.to(torch.float32) + 0.5) * 2.0 ** -24
    return -torch.log(-torch.log(uniform))


class Chooser:
    """The next token of every row, as `generate` would choose it for these settings."""

    def __init__(self, choice: Choice, stops, vocab: int, device):
        import torch

        self.choice, self.stops = choice, stops
        self.stop_columns = torch.isin(torch.arange(vocab, device=device), stops)[None, :]
        self.warpers = []
        if choice.do_sample:
            from transformers import TemperatureLogitsWarper, TopPLogitsWarper

            if choice.temperature != 1.0:
                self.warpers.append(TemperatureLogitsWarper(choice.temperature))
            if choice.top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(choice.top_p))
            self.columns = mix32(torch.arange(vocab, device=device) * 0x27D4EB2F)

    def __call__(self, logits, counts, seeds, history=None, seen=None):
        """`logits` (rows, vocab); `counts` tokens each row has made; `history`/`seen` (rows, columns) the
        tokens each row has seen and which of them count (for the repetition penalty)."""
        import torch

        scores = logits.to(copy=True, dtype=torch.float32)
        c = self.choice
        if c.repetition_penalty != 1.0 and history is not None:
            anchor = history.gather(1, seen.long().argmax(dim=1, keepdim=True))  # a token the row has seen
            tokens = torch.where(seen, history, anchor)
            score = scores.gather(1, tokens)
            score = torch.where(score < 0, score * c.repetition_penalty, score / c.repetition_penalty)
            scores.scatter_(1, tokens, score)
        if c.min_new_tokens > 0:
            early = (counts < c.min_new_tokens)[:, None] & self.stop_columns[:, : scores.shape[1]]
            scores = scores.masked_fill(early, -float("inf"))
        if not c.do_sample:
            return torch.argmax(scores, dim=-1)
        for warp in self.warpers:
            scores = warp(None, scores)
        return torch.argmax(scores + gumbel(seeds, counts, self.columns), dim=-1)
