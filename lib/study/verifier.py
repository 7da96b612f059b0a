"""The two-author verifier: is a text hers, or the control author's? The voice measure of claim 3.

Author-versus-everyone is not a well-posed question for a register: fitted against a generic side, the
authorship measure (`authorship`) called a register-matched other essayist's text hers 17-23% of the time
while its own check read 0.96 specificity. The question the control design can answer is two-author
verification: the author's training-side passages against the control author's, both prepared and split
the same way (PAN's framing of authorship verification: a same-author / different-author decision between
two known writers).

- Features and classifier as the authorship measure's (TF-IDF of character 2-4-grams within words and of
  words, logistic regression with balanced classes), on windows of exactly `words` words; every text is
  judged on its first `words` words, a shorter one excluded and counted.
- Other authors (`background`: the generic corpus) may join the control's side. Measured on the shared
  corpora (docs/_incoming/verifier.md, "Background or not"): a register-matched third author's text (the
  placebo) was called hers less often with them than without, so they join by default when given.
- The threshold is calibrated on held-out human documents of both authors (Platt scaling of the classifier's
  log-odds, both authors weighted equally): P(hers) = 0.5 is where her held-out text and the control's are
  equally likely, and the probabilities are calibrated, so a Brier score means something.
- Its quality is reported as PAN reports verification (ROC-AUC, c@1, Brier, with sensitivity and
  specificity), by held-out window, with the calibration cross-fitted (each held-out document scored by a
  calibration fitted on the others) and intervals from resampling documents within each author.

What it cannot show: whether a text is hers rather than a third writer's in her register that it never saw
(it knows two writers; the oracle's placebo arm measures how often such text is called hers), nor anything
about content: voice on `words` words only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from . import stats
from .authorship import first_window, windows

FIT = 0.8            # ROC-AUC or c@1 below this on held-out documents: the verifier is unfit for the pair
MIN_DOCUMENTS = 2    # held-out documents per author below which no calibration can be cross-fitted


@dataclass
class Quality:
    """The verifier on held-out documents of both authors (calibration cross-fitted by document)."""
    words: int
    auc: stats.Estimate
    c_at_1: stats.Estimate
    brier: stats.Estimate
    sensitivity: stats.Estimate      # her held-out windows called hers
    specificity: stats.Estimate      # the control's held-out windows called not hers
    documents: dict[str, int]        # held-out documents per author
    windows: dict[str, int]          # held-out windows per author
    background: list[str]            # other authors on the control's side
    reason: str = ""                 # why there is no verifier (no control, too little text)

    @property
    def fit(self) -> bool:
        return not self.reason and self.auc.mean >= FIT and self.c_at_1.mean >= FIT

    def as_dict(self) -> dict:
        return {"words": self.words, "fit": self.fit, "reason": self.reason, "documents": self.documents,
                "windows": self.windows, "background": self.background,
                **{name: getattr(self, name).as_dict() for name in
                   ("auc", "c_at_1", "brier", "sensitivity", "specificity")}}

    def rows(self) -> list[dict]:
        """The quality table, as authorship-verification evaluations report it."""
        what = {"auc": "ROC-AUC (threshold-free ranking; 0.5 = chance)",
                "c_at_1": "c@1 (accuracy, an answer of exactly 0.5 counted as unanswered)",
                "brier": "Brier score (lower is better; 0.25 = always 0.5)",
                "sensitivity": "her held-out windows called hers",
                "specificity": "the control's held-out windows called not hers"}
        return [{"figure": label, **getattr(self, name).as_dict()} for name, label in what.items()]


def no_quality(words: int, reason: str) -> Quality:
    empty = stats.Estimate(math.nan, math.nan, math.nan, 0, reason)
    return Quality(words, empty, empty, empty, empty, empty, {}, {}, [], reason)


@dataclass
class Verifier:
    words: int = 150
    seed: int = 0
    regularisation: float = 10.0         # logistic regression's C (as the authorship measure's)
    per_author: int = 100                # most windows any one background author contributes (300: no better)
    background_share: float = 0.5        # of the weight on the "not hers" side, the background's share
    background: list[str] = field(default_factory=list)
    classifier: object = field(default=None, repr=False)
    platt: tuple[float, float] = (1.0, 0.0)
    quality: Quality | None = None
    reason: str = ""

    @property
    def fitted(self) -> bool:
        return self.classifier is not None

    def fit(self, author: list[str], control: list[str],
            background: dict[str, list[str]] | None = None) -> "Verifier":
        """Her training-side passages (1) against the control's (0), with `background` authors' windows (at most
        `per_author` each) on the control's side; the control's side weighs as much as hers whatever its size."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        rng = random.Random(self.seed)
        self.background, self.reason = [], ""
        mine = [w for text in author for w in windows(text, self.words)]
        theirs = [w for text in control for w in windows(text, self.words)]
        others = []
        for name, texts in sorted((background or {}).items()):
            found = [w for text in texts for w in windows(text, self.words)]
            rng.shuffle(found)
            others += found[: self.per_author]
            if found:
                self.background.append(name)
        if len(mine) < 2 or len(theirs) < 2:
            self.reason = (f"it needs at least 2 windows of {self.words} words of each author's training text (hers: "
                           f"{len(mine)}, the control's: {len(theirs)})")
            return self
        # the control and the background share the "not hers" side half and half (the control is the question)
        share = self.background_share if others else 0.0
        weights = ([1 / len(mine)] * len(mine) + [(1 - share) / len(theirs)] * len(theirs)
                   + [share / max(1, len(others))] * len(others))
        self.classifier = make_pipeline(
            make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2,
                                       max_features=300_000),
                       TfidfVectorizer(analyzer="word", sublinear_tf=True, min_df=2)),
            LogisticRegression(C=self.regularisation, max_iter=5000))
        weights = np.array(weights) * len(weights) / 2
        self.classifier.fit(mine + theirs + others, [1] * len(mine) + [0] * (len(theirs) + len(others)),
                            logisticregression__sample_weight=weights)
        return self

    def log_odds(self, texts: list[str]) -> np.ndarray:
        return self.classifier.decision_function(texts) if texts else np.array([])

    def calibrate(self, author_held_out: dict[str, list[str]], control_held_out: dict[str, list[str]],
                  resamples: int = 2000) -> Quality:
        """Fit the threshold on every held-out window of both authors, and measure the verifier on them with the
        calibration cross-fitted by document (each document scored by a calibration fitted without it)."""
        if not self.fitted:
            self.quality = no_quality(self.words, self.reason)
            return self.quality
        docs = [(name, 1, [w for t in texts for w in windows(t, self.words)]) for name, texts in author_held_out.items()]
        docs += [(name, 0, [w for t in texts for w in windows(t, self.words)]) for name, texts in control_held_out.items()]
        docs = [d for d in docs if d[2]]
        counts = {side: sum(1 for _, y, _ in docs if y == label) for side, label in (("author", 1), ("control", 0))}
        if min(counts.values()) < MIN_DOCUMENTS:
            self.reason = (f"too few held-out documents with a {self.words}-word window to calibrate it (hers: "
                           f"{counts['author']}, the control's: {counts['control']}; at least {MIN_DOCUMENTS} each)")
            self.quality = no_quality(self.words, self.reason)
            return self.quality
        scores = [self.log_odds(texts) for _, _, texts in docs]
        labels = [np.full(len(s), y) for s, (_, y, _) in zip(scores, docs)]
        self.platt = platt(np.concatenate(scores), np.concatenate(labels))
        crossed = []
        for k in range(len(docs)):
            rest = [j for j in range(len(docs)) if j != k]
            a, b = platt(np.concatenate([scores[j] for j in rest]), np.concatenate([labels[j] for j in rest]))
            crossed.append(sigmoid(a * scores[k] + b))
        self.quality = quality(self.words, crossed, labels, scores, self.background, resamples, self.seed)
        self.quality.windows = {"author": int(sum(len(s) for s, y in zip(scores, labels) if y[0] == 1)),
                                "control": int(sum(len(s) for s, y in zip(scores, labels) if y[0] == 0))}
        return self.quality

    def probability(self, texts: list[str]) -> list[float | None]:
        """Calibrated P(hers rather than the control's) of each text on its first `words` words; None for a text
        too short to judge (or when there is no verifier)."""
        cut = [first_window(t, self.words) if self.fitted else None for t in texts]
        scored = [c for c in cut if c is not None]
        a, b = self.platt
        values = iter(sigmoid(a * self.log_odds(scored) + b).tolist() if scored else [])
        return [next(values) if c is not None else None for c in cut]

    def above(self, groups: list[tuple[list[str], list[str]]]) -> list[float | None]:
        """For each (texts, foils) group, the share of (text, foil) pairs whose text reads as more hers than the
        foil (ties: half), every text of the group judged on the same number of words (the group's shortest);
        scored in one batch. None for a group without both, or without a verifier."""
        cut, spans = [], []
        for texts, foils in groups:
            options = list(texts) + list(foils)
            n = min((len(t.split()) for t in options), default=0)
            spans.append((len(cut), len(texts), len(foils)) if texts and foils and self.fitted else None)
            if spans[-1]:
                cut += [" ".join(t.split()[:n]) for t in options]
        scores = self.log_odds(cut) if cut else np.array([])
        out = []
        for span in spans:
            if span is None:
                out.append(None)
                continue
            start, k, m = span
            mine, theirs = scores[start:start + k, None], scores[None, start + k:start + k + m]
            out.append(float(np.mean((mine > theirs) + 0.5 * (mine == theirs))))
        return out

    def pick(self, groups: list[list[str]]) -> list[int | None]:
        """Which text of each group reads most as hers (the DigiDan choice), every text of a group judged on the
        same number of words (its shortest); one batch. None without a verifier."""
        if not self.fitted:
            return [None] * len(groups)
        cut, starts = [], []
        for texts in groups:
            n = min(len(t.split()) for t in texts)
            starts.append(len(cut))
            cut += [" ".join(t.split()[:n]) for t in texts]
        scores = self.log_odds(cut)
        return [int(np.argmax(scores[start:start + len(texts)])) for start, texts in zip(starts, groups)]

    def hers(self, texts: list[str]) -> list[float | None]:
        """1 when the verifier calls a text hers, 0 when the control's, None when too short to judge."""
        return [None if p is None else float(p > 0.5) for p in self.probability(texts)]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -50, 50)))


def platt(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) mapping log-odds to calibrated P(hers), both authors weighted equally."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4, class_weight="balanced").fit(scores.reshape(-1, 1), labels)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def c_at_1(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Peñas and Rodrigo's c@1 as PAN scores it: a probability of exactly 0.5 is no answer, and unanswered
    cases earn the accuracy of the answered ones."""
    answered = probabilities != 0.5
    right = ((probabilities > 0.5) == (labels == 1)) & answered
    n = len(labels)
    return float((right.sum() + (n - answered.sum()) * right.sum() / n) / n)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count half)."""
    from scipy.stats import rankdata

    positive = labels == 1
    n1, n0 = positive.sum(), (~positive).sum()
    if not n1 or not n0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def quality(words: int, crossed: list[np.ndarray], labels: list[np.ndarray], scores: list[np.ndarray],
            background: list[str], resamples: int, seed: int) -> Quality:
    """Each figure on all held-out windows, with a percentile interval from resampling documents within each
    author (stratified: every resample keeps both authors)."""
    mine = [k for k, y in enumerate(labels) if y[0] == 1]
    theirs = [k for k, y in enumerate(labels) if y[0] == 0]
    figures = {
        "auc": lambda docs: auc(np.concatenate([scores[k] for k in docs]), np.concatenate([labels[k] for k in docs])),
        "c_at_1": lambda docs: c_at_1(np.concatenate([crossed[k] for k in docs]), np.concatenate([labels[k] for k in docs])),
        "brier": lambda docs: float(np.mean((np.concatenate([crossed[k] for k in docs])
                                             - np.concatenate([labels[k] for k in docs])) ** 2)),
        "sensitivity": lambda docs: float(np.mean(np.concatenate([crossed[k] for k in docs if k in mine]) > 0.5)),
        "specificity": lambda docs: float(np.mean(np.concatenate([crossed[k] for k in docs if k in theirs]) <= 0.5)),
    }
    rng = np.random.default_rng(seed)
    draws = [list(rng.choice(mine, len(mine))) + list(rng.choice(theirs, len(theirs))) for _ in range(resamples)]
    everything = mine + theirs
    method = (f"held-out windows, calibration cross-fitted by document; percentile interval over {len(mine)} + "
              f"{len(theirs)} documents resampled within each author"
              + (" (fewer than 5 documents an author: the interval is rough)" if min(len(mine), len(theirs)) < 5 else ""))
    found = {}
    for name, figure in figures.items():
        values = np.array([figure(d) for d in draws])
        low, high = np.nanquantile(values, [0.025, 0.975])
        found[name] = stats.Estimate(figure(everything), float(low), float(high), len(everything), method)
        if high - low <= 0:  # every resample alike (perfect separation): what unseen documents could still change
            e = stats._constant(figure(everything), len(everything), 0.95, (0.0, 1.0), "resamples")
            found[name] = stats.Estimate(e.mean, e.low, e.high, e.n, f"{method}; {e.method}")
    return Quality(words, found["auc"], found["c_at_1"], found["brier"], found["sensitivity"], found["specificity"],
                   {"author": len(mine), "control": len(theirs)}, {}, list(background))
