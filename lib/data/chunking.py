"""Cutting documents into pre-training chunks measured in the model's own tokens.

A chunk holds at most `max_tokens` tokens as the trainer will see them (BOS + text + EOS), is cut at
paragraph boundaries where it can (then sentences, then tokens for a monster sentence), never spans two
documents, may repeat the tail of the previous chunk (`overlap`), and ends with the EOS token so the
model learns where a text stops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .corpus import Document

SENTENCE_END = re.compile(r"(?<=[.!?;:\"'\u201d)])\s+(?=[\"'\u201c(A-Z0-9])")


@dataclass
class Piece:
    text: str
    sep: str        # what joins it to the piece before: "\n\n" between paragraphs, " " inside one
    tokens: int


def chunk_corpus(docs: list[Document], tokenizer, max_tokens: int, overlap: int = 0) -> list[dict]:
    """All chunks of all documents, as rows ready for `pretraining_*.jsonl`."""
    rows = []
    for doc in docs:
        for i, (text, n) in enumerate(chunk_text(doc.text, tokenizer, max_tokens, overlap)):
            rows.append({"text": text, "document": doc.name, "category": doc.category, "chunk": i,
                         "n_tokens": n})
    return rows


def chunk_text(text: str, tokenizer, max_tokens: int, overlap: int = 0) -> list[tuple[str, int]]:
    """(chunk text ending with EOS, token count with BOS and EOS) for one document."""
    eos = tokenizer.eos_token
    overhead = special_overhead(tokenizer)
    budget = max_tokens - overhead
    if budget < 8:
        raise ValueError(f"chunk length {max_tokens} leaves no room for text")
    pieces = split_pieces(text, tokenizer, budget)
    chunks: list[list[Piece]] = []
    current: list[Piece] = []
    for piece in pieces:
        if current and estimate(current + [piece]) > budget:
            chunks.append(current)
            tail = overlap_tail(current, overlap, tokenizer)
            current = tail if estimate(tail + [piece]) <= budget else []
        current.append(piece)
    if current:
        chunks.append(current)
    out = []
    i = 0
    while i < len(chunks):  # the estimate is an upper bound in practice; check exactly all the same
        chunk = chunks[i]
        body = join(chunk)
        n = count(tokenizer, body) + overhead
        while n > max_tokens and len(chunk) > 1:
            moved = chunk.pop()
            chunks.insert(i + 1, [Piece(moved.text, "\n\n", moved.tokens)])
            body = join(chunk)
            n = count(tokenizer, body) + overhead
        out.append((body + eos, n))
        i += 1
    return out


def special_overhead(tokenizer) -> int:
    """Tokens the trainer adds around a text: BOS from the tokenizer, EOS from the chunk itself."""
    with_special = len(tokenizer("x")["input_ids"])
    plain = len(tokenizer("x", add_special_tokens=False)["input_ids"])
    return with_special - plain + 1


def count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def split_pieces(text: str, tokenizer, budget: int) -> list[Piece]:
    """Paragraphs; a paragraph over budget becomes sentences; a sentence over budget becomes word runs."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    counts = batch_count(tokenizer, paragraphs)
    pieces = []
    for para, n in zip(paragraphs, counts):
        if n <= budget:
            pieces.append(Piece(para, "\n\n", n))
            continue
        sentences = [s for s in SENTENCE_END.split(para) if s.strip()]
        for j, (sentence, m) in enumerate(zip(sentences, batch_count(tokenizer, sentences))):
            sep = "\n\n" if j == 0 else " "
            if m <= budget:
                pieces.append(Piece(sentence, sep, m))
            else:
                pieces += split_words(sentence, tokenizer, budget, sep)
    return pieces


def split_words(sentence: str, tokenizer, budget: int, sep: str) -> list[Piece]:
    """A sentence longer than a whole chunk (tables, lists run together): cut between words."""
    words = sentence.split()
    sizes = batch_count(tokenizer, [" " + w for w in words])
    pieces: list[Piece] = []
    start = 0
    while start < len(words):
        end, size = start, 0
        while end < len(words) and (end == start or size + sizes[end] <= budget):
            size += sizes[end]
            end += 1
        text = " ".join(words[start:end])
        while end - start > 1 and count(tokenizer, text) > budget:  # the estimate missed a merge
            end -= 1
            text = " ".join(words[start:end])
        pieces.append(Piece(text, sep if not pieces else " ", count(tokenizer, text)))
        start = end
    return pieces


def batch_count(tokenizer, texts: list[str]) -> list[int]:
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def estimate(pieces: list[Piece]) -> int:
    """Upper-bound guess of the joined length: pieces plus one token per separator."""
    return sum(p.tokens for p in pieces) + max(0, len(pieces) - 1)


def overlap_tail(pieces: list[Piece], overlap: int, tokenizer) -> list[Piece]:
    """The last whole sentences of a chunk, at most `overlap` tokens, to open the next one."""
    if overlap <= 0:
        return []
    sentences = [Piece(s, piece.sep if j == 0 else " ", 0)
                 for piece in pieces
                 for j, s in enumerate(x for x in SENTENCE_END.split(piece.text) if x.strip())]
    tail: list[Piece] = []
    total = 0
    for sentence in reversed(sentences):
        sentence.tokens = count(tokenizer, sentence.text)
        if total + sentence.tokens + 1 > overlap:
            break
        tail.insert(0, sentence)
        total += sentence.tokens + 1
    if tail:
        tail[0].sep = "\n\n"
    return tail


def join(pieces: list[Piece]) -> str:
    return "".join((p.sep if i else "") + p.text for i, p in enumerate(pieces))
