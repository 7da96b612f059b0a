"""Cutting documents into pre-training chunks measured in the model's own tokens.

A chunk holds at most `max_tokens` tokens as the trainer will see them (BOS + text + EOS), is cut at
paragraph boundaries where it can (then sentences, then tokens for a monster sentence), never spans two
documents, may repeat the tail of the previous chunk (`overlap`), and ends with the EOS token so the
model learns where a text stops.

Memory stays bounded by the chunk, not the paragraph: texts go to the tokenizer a slice at a time, and a
paragraph too long in characters to fit a chunk whatever its tokens (`char_bound`) is cut into sentences
or words without ever being tokenised whole (a 5 MB paragraph with no sentence end took gigabytes).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .corpus import Document
from .progress import progress

SENTENCE_END = re.compile(r"(?<=[.!?;:\"'\u201d)])\s+(?=[\"'\u201c(A-Z0-9])")


@dataclass
class Piece:
    text: str
    sep: str        # what joins it to the piece before: "\n\n" between paragraphs, " " inside one
    tokens: int


BATCH_CHARS, BATCH_TEXTS = 1_000_000, 1024  # sent to the tokenizer at once, at most


def chunk_corpus(docs: list[Document], tokenizer, max_tokens: int, overlap: int = 0) -> list[dict]:
    """All chunks of all documents, as rows ready for `pretraining_*.jsonl`."""
    rows = []
    for doc in progress(docs, "chunking"):
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
    joined = [c for c in chunks if len(c) > 1]  # a lone piece's count is exact already; the rest in one batch
    exact = {id(c): n for c, n in zip(joined, batch_count(tokenizer, [join(c) for c in joined]))}
    while i < len(chunks):  # the estimate is an upper bound in practice; check exactly all the same
        chunk = chunks[i]
        body = join(chunk)
        n = (chunk[0].tokens if len(chunk) == 1 else exact[id(chunk)]) + overhead
        while n > max_tokens and len(chunk) > 1:
            moved = chunk.pop()
            chunks.insert(i + 1, [Piece(moved.text, "\n\n", moved.tokens)])
            body = join(chunk)
            n = count(tokenizer, body) + overhead
        out.append((body + eos, n))
        i += 1
    return out


@functools.lru_cache(maxsize=8)
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
    counts = bounded_count(tokenizer, paragraphs, budget)
    pieces = []
    for para, n in zip(paragraphs, counts):
        if n <= budget:
            pieces.append(Piece(para, "\n\n", n))
            continue
        sentences = [s for s in SENTENCE_END.split(para) if s.strip()]
        for j, (sentence, m) in enumerate(zip(sentences, bounded_count(tokenizer, sentences, budget))):
            sep = "\n\n" if j == 0 else " "
            if m <= budget:
                pieces.append(Piece(sentence, sep, m))
            else:
                pieces += split_words(sentence, tokenizer, budget, sep)
    return pieces


def bounded_count(tokenizer, texts: list[str], budget: int) -> list[int]:
    """Token counts, except that a text too long in characters for `budget` tokens is not tokenised at all
    (it cannot fit; its count is given as budget + 1)."""
    limit = char_bound(tokenizer, budget)
    short = [t for t in texts if len(t) <= limit]
    counts = iter(batch_count(tokenizer, short))
    return [next(counts) if len(t) <= limit else budget + 1 for t in texts]


def char_bound(tokenizer, budget: int) -> int:
    """The most characters `budget` tokens can cover: budget x the longest token in the vocabulary."""
    return budget * longest_token(tokenizer)


@functools.lru_cache(maxsize=8)
def longest_token(tokenizer) -> int:
    return max(map(len, tokenizer.get_vocab()), default=1)


def split_words(sentence: str, tokenizer, budget: int, sep: str) -> list[Piece]:
    """A sentence longer than a whole chunk (tables, lists run together): cut between words."""
    words = sentence.split()
    vocabulary = sorted(set(words))  # a long run-on text repeats its words: count each once
    size_of = dict(zip(vocabulary, batch_count(tokenizer, [" " + w for w in vocabulary])))
    pieces: list[Piece] = []
    start = 0
    while start < len(words):
        end, size = start, 0
        while end < len(words) and (end == start or size + size_of[words[end]] <= budget):
            size += size_of[words[end]]
            end += 1
        text = " ".join(words[start:end])
        n = count(tokenizer, text)
        while end - start > 1 and n > budget:  # the estimate missed a merge
            end -= 1
            text = " ".join(words[start:end])
            n = count(tokenizer, text)
        pieces.append(Piece(text, sep if not pieces else " ", n))
        start = end
    return pieces


def batch_count(tokenizer, texts: list[str]) -> list[int]:
    """Token counts of many texts, sent to the tokenizer in slices of at most `BATCH_TEXTS` texts and about
    `BATCH_CHARS` characters (its output for a whole book at once, or for 800,000 single words, takes
    gigabytes)."""
    out: list[int] = []
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size + len(texts[end]) <= BATCH_CHARS
                                    and end - start < BATCH_TEXTS):
            size += len(texts[end])
            end += 1
        out += [len(ids) for ids in tokenizer(texts[start:end], add_special_tokens=False,
                                              return_attention_mask=False)["input_ids"]]
        start = end
    return out


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
