"""The retrieval arm: BM25 over the author's own passages (rank-bm25), each returned with its document.

It stands for "just show the surrogate what the person wrote": no model, no paraphrase. Passages are the
paragraphs of the training-side documents, so held-out documents stay held out here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(r"[a-z0-9]+")
STOP = set("""a an and are as at be but by for from has have he her his i if in into is it its me my of on or our
so that the their them they this to was we were what when which who will with you your not no do does""".split())


def tokenize(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


@dataclass(frozen=True)
class Passage:
    text: str
    document: str
    score: float


class Retriever:
    def __init__(self, passages: list[tuple[str, str]], min_words: int = 25):
        """`passages`: (text, document) pairs; very short ones (titles, headings) are left out."""
        from rank_bm25 import BM25Okapi

        self.passages = [(t, d) for t, d in passages if len(t.split()) >= min_words]
        if not self.passages:
            raise ValueError("no passages to retrieve from")
        self.index = BM25Okapi([tokenize(t) for t, _ in self.passages])

    @classmethod
    def from_chunks(cls, chunks: list[dict], eos: str = "") -> "Retriever":
        """Paragraphs of pre-training chunks (rows of pretraining_train.jsonl)."""
        pairs = []
        for row in chunks:
            text = row["text"].removesuffix(eos) if eos else row["text"]
            pairs += [(p.strip(), row["document"]) for p in text.split("\n\n") if p.strip()]
        return cls(pairs)

    def search(self, query: str, k: int = 3) -> list[Passage]:
        scores = self.index.get_scores(tokenize(query))
        best = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [Passage(self.passages[i][0], self.passages[i][1], float(scores[i])) for i in best]

    def answer(self, query: str, k: int = 1) -> str:
        """The retrieval arm's "answer": the top passage(s), verbatim."""
        return "\n\n".join(p.text for p in self.search(query, k))
