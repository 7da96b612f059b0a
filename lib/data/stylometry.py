"""How close two writers are in register: Burrows' Delta over the most frequent words.

A control author is only a control if he writes in her register, and a register-matched pair for known truth
must be picked by a rule, not by hand. Burrows' Delta (Burrows 2002) is the classic distance of authorship
studies: the relative frequencies of the few hundred most frequent words (mostly function words, which carry
register and habit rather than topic), z-scored across a set of writers, and the mean absolute difference of
two writers' z-scores. Its scale depends on the set it is z-scored over, so a distance is read against the
distances to other writers of the same set (`register_distance`: where the control falls among them).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
MFW = 150      # most frequent words used: the range authorship studies use for short corpora (100-300)


def words(text: str) -> list[str]:
    """Lower-case word tokens (apostrophes inside words kept, digits and punctuation dropped)."""
    return WORD.findall(text.lower())


def profiles(corpora: dict[str, list[str]], n_words: int = MFW) -> tuple[list[str], np.ndarray]:
    """The `n_words` most frequent words over all writers (each writer weighted equally, so one large corpus
    does not choose them) and each writer's relative frequencies of them (rows in the order of `corpora`)."""
    counts = {name: Counter(w for text in texts for w in words(text)) for name, texts in corpora.items()}
    empty = [name for name, c in counts.items() if not c]
    if empty:
        raise ValueError(f"no words in the texts of: {', '.join(empty)}")
    pooled: Counter = Counter()
    for c in counts.values():
        total = sum(c.values())
        pooled.update({w: n / total for w, n in c.items()})
    vocabulary = [w for w, _ in pooled.most_common(n_words)]
    table = np.array([[c[w] / sum(c.values()) for w in vocabulary] for c in counts.values()])
    return vocabulary, table


def delta_matrix(corpora: dict[str, list[str]], n_words: int = MFW) -> np.ndarray:
    """Burrows' Delta between every pair of writers, z-scored across all of them (needs at least 3)."""
    if len(corpora) < 3:
        raise ValueError("Delta needs at least 3 writers to z-score over (add other writers of the register)")
    _, table = profiles(corpora, n_words)
    spread = table.std(axis=0)
    z = (table - table.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return np.abs(z[:, None, :] - z[None, :, :]).mean(axis=2)


def register_distance(author: list[str], control: list[str], others: dict[str, list[str]],
                      n_words: int = MFW) -> dict:
    """Delta between the author and the control, and where it falls among the author's distances to the other
    writers (`others`: generic authors of the register, or a broader population). `share_nearer` is the share
    of other writers nearer to her than the control is: 0 means the control is her nearest neighbour."""
    names = ["author", "control", *others]
    corpora = {"author": author, "control": control, **{f"other:{k}": v for k, v in others.items()}}
    matrix = delta_matrix(corpora, n_words)
    to_author = matrix[0]
    control_delta = float(to_author[1])
    other_deltas = to_author[2:]
    return {"delta": control_delta, "words": n_words, "others": len(others),
            "others_median": float(np.median(other_deltas)) if len(other_deltas) else None,
            "share_nearer": float(np.mean(other_deltas < control_delta)) if len(other_deltas) else None,
            "nearest_other": names[2 + int(np.argmin(other_deltas))] if len(other_deltas) else None}


def nearest_pairs(corpora: dict[str, list[str]], n_words: int = MFW) -> list[tuple[str, str, float]]:
    """Every pair of writers, nearest first: how a register-matched pair is picked by rule, not by hand."""
    names = list(corpora)
    matrix = delta_matrix(corpora, n_words)
    pairs = [(names[i], names[j], float(matrix[i, j])) for i in range(len(names)) for j in range(i + 1, len(names))]
    return sorted(pairs, key=lambda p: p[2])


def nearest_to(name: str, corpora: dict[str, list[str]], n_words: int = MFW) -> list[tuple[str, float]]:
    """The other writers ordered by their distance to `name`, nearest first."""
    names = list(corpora)
    row = delta_matrix(corpora, n_words)[names.index(name)]
    return sorted(((other, float(row[i])) for i, other in enumerate(names) if other != name), key=lambda p: p[1])
