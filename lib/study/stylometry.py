"""The authorship measure: does a text read like the author, or like generic prose?

Two views, trained on the author's training text against generic text, both cut into segments of
~`segment_words` words:
- Burrows' Delta on the `n_words` most frequent words (mostly function words, the classic fingerprint),
  in its cosine form (Smith & Aldridge 2011; the most reliable variant in Evert et al. 2017): z-scored
  relative frequencies, and Delta to a class = cosine distance from the class centroid. (The classic
  mean-absolute form is biased on texts of a few hundred words, where most fingerprint words are absent.)
  A text is author-like when it is nearer the author's centroid. `author_feature_share` says how the text
  mixes the two: the share of fingerprint words on which it sits nearer the author.
- A character n-gram classifier (scikit-learn: TF-IDF of 2-4 character n-grams, logistic regression):
  the probability that a text is the author's.
Short texts carry little signal: scores on answers of a few words are noise, whatever the arm.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def segments(texts: list[str], segment_words: int = 120, min_words: int = 25) -> list[str]:
    """Texts cut into consecutive pieces of about `segment_words` words; a short text (an answer) is kept
    whole, a short tail joins nothing and is dropped, anything under `min_words` is too little to learn from."""
    out = []
    for text in texts:
        tokens = text.split()
        for i in range(0, len(tokens), segment_words):
            piece = tokens[i:i + segment_words]
            if len(piece) >= min_words and (i == 0 or len(piece) >= segment_words // 2):
                out.append(" ".join(piece))
    return out


@dataclass
class Score:
    delta_author: float
    delta_generic: float
    author_feature_share: float       # share of fingerprint words on which the text is nearer the author
    classifier_probability: float     # char n-gram classifier: P(author)

    @property
    def delta_author_like(self) -> bool:
        return self.delta_author < self.delta_generic

    @property
    def mix(self) -> float:
        """0 = sits on the author's centroid, 1 = on the generic one, 0.5 = halfway."""
        total = self.delta_author + self.delta_generic
        return self.delta_author / total if total else 0.5

    def as_dict(self) -> dict:
        return {"delta_author": self.delta_author, "delta_generic": self.delta_generic, "mix": self.mix,
                "delta_author_like": float(self.delta_author_like),
                "author_feature_share": self.author_feature_share,
                "classifier_probability": self.classifier_probability,
                "classifier_author_like": float(self.classifier_probability > 0.5)}


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(1 - a @ b / norm) if norm else 1.0


class AuthorshipModel:
    """Fit on author and generic texts; score any text."""

    def __init__(self, n_words: int = 150, segment_words: int = 120, seed: int = 0):
        self.n_words, self.segment_words, self.seed = n_words, segment_words, seed

    def fit(self, author_texts: list[str], generic_texts: list[str]) -> "AuthorshipModel":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        author = segments(author_texts, self.segment_words)
        generic = segments(generic_texts, self.segment_words)
        if len(author) < 2 or len(generic) < 2:
            raise ValueError(f"the authorship measure needs at least 2 segments of {self.segment_words} words on "
                             f"each side (author: {len(author)}, generic: {len(generic)})")
        counts = Counter(w for text in author + generic for w in words(text))
        self.vocabulary = [w for w, _ in counts.most_common(self.n_words)]
        a, g = self._frequencies(author), self._frequencies(generic)
        # both classes weigh the same, however much text each has: the mean of the class means, and the
        # pooled spread within classes
        self.mean = (a.mean(axis=0) + g.mean(axis=0)) / 2
        self.std = np.sqrt((a.var(axis=0) + g.var(axis=0)) / 2) + 1e-9
        self.author_centroid = ((a - self.mean) / self.std).mean(axis=0)
        self.generic_centroid = ((g - self.mean) / self.std).mean(axis=0)
        labels = np.array([1] * len(author) + [0] * len(generic))
        self.classifier = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=self.seed))
        self.classifier.fit(author + generic, labels)
        self.training_segments = {"author": len(author), "generic": len(generic)}
        return self

    def _frequencies(self, texts: list[str]) -> np.ndarray:
        index = {w: i for i, w in enumerate(self.vocabulary)}
        out = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            tokens = words(text)
            for w in tokens:
                if w in index:
                    out[row, index[w]] += 1
            out[row] /= max(1, len(tokens))
        return out

    def score(self, texts: list[str]) -> list[Score]:
        if not texts:
            return []
        z = (self._frequencies(texts) - self.mean) / self.std
        nearer = np.abs(z - self.author_centroid) < np.abs(z - self.generic_centroid)
        probabilities = self.classifier.predict_proba(texts)[:, 1]
        return [Score(cosine_distance(row, self.author_centroid), cosine_distance(row, self.generic_centroid),
                      float(near.mean()), float(p))
                for row, near, p in zip(z, nearer, probabilities)]

    def pick_author(self, candidates: list[str]) -> int:
        """Which candidate reads most like the author (the DigiDan choice): highest classifier probability,
        ties broken by the smaller Delta."""
        scores = self.score(candidates)
        return int(max(range(len(scores)), key=lambda i: (scores[i].classifier_probability, -scores[i].mix)))
