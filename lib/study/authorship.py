"""The authorship measure: does a text read like the author, or like other people writing in her register?

A classifier (scikit-learn: TF-IDF of character 2-4-grams within words and of words, logistic regression
with balanced classes) is trained on windows of exactly `words` words: the author's training-side text
against a **generic corpus** of other human authors in a comparable register (`generic_corpus`), to which
the base model's answers may be added. Every text is then judged on its first `words` words, so a long
answer and a short one are judged on the same evidence; a text shorter than that is excluded and counted,
never scored (P(author) rises with length otherwise, and "Yes." would look like anybody).

Before it scores any arm the measure checks itself on text it never saw: sensitivity on windows of the
author's held-out documents, specificity on windows of generic authors held out of its training (whole
authors, not just documents, so it must recognise the author rather than remember the others). Below
`FIT` on either, it is unfit for this corpus and the report says so.

What the check cannot see, and known truth showed (docs/validity.md, "Does the study measure what it claims?"): a model
tuned on *another* essayist is called the author's far more often than the base model, and with a generic side
of novels 29% of Chesterton's essays are called Schopenhauer's. The measure tells "an essayist" more than "her",
so everything built on it is exploratory (`NOT_VALIDATED` says so in the report) until it passes a placebo in
her register.

Without a generic corpus the generic side is the base model's answers alone: the measure then says how far
a text has moved from the base model towards the author (mode "base distance"), which is not the same as
sounding like her: the report names it so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from . import stats

FIT = 0.8            # sensitivity and specificity below this: the measure is unfit for the corpus
AUTHOR = "author"
BASE_DISTANCE = "base distance"
NOT_FITTED = "not fitted"   # too little text of a side at the scoring length: every text is excluded, nothing scored
NOT_VALIDATED = ("exploratory: on known truth a model tuned on another essayist was called the author's far more "
                 "often than the base model (docs/validity.md, 'Does the study measure what it claims?'); ")


def windows(text: str, words: int) -> list[str]:
    """Consecutive pieces of exactly `words` words (a shorter tail is dropped)."""
    tokens = text.split()
    return [" ".join(tokens[i:i + words]) for i in range(0, len(tokens) - words + 1, words)]


def first_window(text: str, words: int) -> str | None:
    """The first `words` words of a text, or None when it is shorter (excluded, not scored)."""
    tokens = text.split()
    return " ".join(tokens[:words]) if len(tokens) >= words else None


@dataclass
class Check:
    """The measure's own check on held-out text, at its scoring length."""
    words: int
    sensitivity: stats.Estimate          # held-out author windows called the author's
    specificity: stats.Estimate          # held-out generic windows (unseen authors) called not hers
    held_out_authors: list[str]
    mode: str

    @property
    def fit(self) -> bool:
        return self.sensitivity.mean >= FIT and self.specificity.mean >= FIT

    def as_dict(self) -> dict:
        return {"words": self.words, "mode": self.mode, "fit": self.fit, "held_out_authors": self.held_out_authors,
                "sensitivity": self.sensitivity.as_dict(), "specificity": self.specificity.as_dict()}


@dataclass
class AuthorshipMeasure:
    words: int = 150
    seed: int = 0
    regularisation: float = 10.0          # logistic regression's C (measured on the shared corpora)
    held_out_share: float = 0.25          # share of generic authors kept out of training, for the check
    per_author: int = 300                 # most windows any one generic author contributes
    mode: str = AUTHOR
    trained_windows: dict = field(default_factory=dict)
    held_out: dict = field(default_factory=dict, repr=False)
    classifier: object = field(default=None, repr=False)
    reason: str = ""                      # why it was not fitted

    @property
    def fitted(self) -> bool:
        return self.classifier is not None

    def fit(self, author: list[str], generic: dict[str, list[str]], base_answers: list[str] = ()) -> "AuthorshipMeasure":
        """`author`: the author's training-side texts; `generic`: texts by generic author (may be empty: then
        the base model's answers are the generic side and the mode is "base distance")."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        rng = random.Random(self.seed)
        generic = {name: texts for name, texts in generic.items() if texts}
        if not generic:
            self.mode = BASE_DISTANCE
            answers = [a for a in base_answers if first_window(a, self.words)]
            rng.shuffle(answers)
            cut = max(1, round(len(answers) * self.held_out_share)) if len(answers) > 1 else 0
            generic = {"base model": answers[cut:]}
            self.held_out = {"base model": answers[:cut]}
        else:
            names = sorted(generic)
            rng.shuffle(names)
            cut = max(1, round(len(names) * self.held_out_share)) if len(names) > 1 else 0
            self.held_out = {name: generic[name] for name in names[:cut]}
            generic = {name: generic[name] for name in names[cut:]}
            if base_answers:
                generic["base model"] = list(base_answers)
        author_windows = [w for text in author for w in windows(text, self.words)]
        generic_windows = self.sample_windows([texts for _, texts in sorted(generic.items())], rng)
        self.trained_windows = {"author": len(author_windows), "generic": len(generic_windows),
                                "generic authors": len(generic)}
        if len(author_windows) < 2 or len(generic_windows) < 2:
            # not an error: the rest of the study stands without it; every text it would judge is excluded
            self.mode, self.held_out = NOT_FITTED, {}
            self.reason = (f"it needs at least 2 windows of {self.words} words on each side (author: "
                           f"{len(author_windows)}, generic: {len(generic_windows)}): give a generic_corpus, longer "
                           "answers (probe_max_new_tokens) or a shorter authorship_words")
            return self
        self.classifier = make_pipeline(
            make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2,
                                       max_features=300_000),
                       TfidfVectorizer(analyzer="word", sublinear_tf=True, min_df=2)),
            LogisticRegression(C=self.regularisation, class_weight="balanced", max_iter=5000))
        self.classifier.fit(author_windows + generic_windows, [1] * len(author_windows) + [0] * len(generic_windows))
        return self

    def check(self, author_held_out: list[str]) -> Check:
        """Sensitivity on the author's held-out documents, specificity on the held-out generic authors."""
        if not self.fitted:
            return Check(self.words, stats.proportion([]), stats.proportion([]), [], self.mode)
        author = [w for text in author_held_out for w in windows(text, self.words)]
        generic = self.sample_windows(list(self.held_out.values()), random.Random(self.seed))
        hits = self._probabilities(author) > 0.5 if author else np.array([])
        rejections = self._probabilities(generic) <= 0.5 if generic else np.array([])
        return Check(self.words, stats.proportion(hits.astype(float).tolist()),
                     stats.proportion(rejections.astype(float).tolist()), sorted(self.held_out), self.mode)

    def sample_windows(self, authors: list[list[str]], rng: random.Random) -> list[str]:
        """Up to `per_author` windows of each author's texts, drawn at random (no author outweighs the rest)."""
        out = []
        for texts in authors:
            found = [w for text in texts for w in windows(text, self.words)]
            rng.shuffle(found)
            out += found[: self.per_author]
        return out

    def caveat(self, check: Check) -> str:
        """What every measure built on this one must say before anything else: how it was fitted and that
        known truth did not validate it."""
        mode = {BASE_DISTANCE: "BASE DISTANCE: without a generic corpus the measure only tells the author from "
                "the base model's answers; it cannot say an answer sounds like her rather than like anyone else. ",
                NOT_FITTED: f"NOT FITTED: {self.reason}. "}.get(self.mode, "")
        unfit = (f"UNFIT: the measure's own check on held-out text is below {FIT:.0%}; read nothing into it. "
                 if self.fitted and not check.fit else "")
        return mode + unfit + NOT_VALIDATED

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        return self.classifier.predict_proba(texts)[:, 1]

    def probability(self, texts: list[str]) -> list[float | None]:
        """P(author) of each text on its first `words` words; None for a text too short to judge."""
        cut = [first_window(t, self.words) if self.fitted else None for t in texts]
        scored = [c for c in cut if c is not None]
        values = iter(self._probabilities(scored).tolist() if scored else [])
        return [next(values) if c is not None else None for c in cut]

    def author_like(self, texts: list[str]) -> list[float | None]:
        """1 when the measure calls a text the author's, 0 when not, None when too short to judge."""
        return [None if p is None else float(p > 0.5) for p in self.probability(texts)]

    def pick_author(self, candidates: list[str]) -> int | None:
        """Which candidate reads most like the author (the DigiDan choice), every candidate judged on the same
        number of words (the shortest candidate's); None when the measure was not fitted."""
        if not self.fitted:
            return None
        shortest = min(len(c.split()) for c in candidates)
        cut = [" ".join(c.split()[:shortest]) for c in candidates]
        return int(np.argmax(self._probabilities(cut)))
