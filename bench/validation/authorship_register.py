"""Does the authorship measure hear the author, or the author's register? Checked on real texts of known
origin, with the generic side of the known-truth experiment (bench/validation/known_truth.py) and with essayists added.

In the known-truth run the placebo arm tuned on Chesterton (an essayist the measure never saw) was called
Schopenhauer's far more often than the base model. This script asks the same of the real texts, no model
involved: the measure is fitted as in that run (Schopenhauer's training-side essays against the 20 population
authors held out of pretraining), then asked about windows of held-out Schopenhauer, of Chesterton, and of
other population authors; then fitted again with the population's essay-like books (titles: essays, lectures,
sermons, letters, ...) added to the generic side.

    python -m bench.validation.authorship_register [--corpora ../shared/corpora]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ESSAY_TITLES = re.compile(r"essay|lecture|sermon|discourse|studies|letters|reflections|thoughts|philosoph|address",
                          re.I)


def called_hers(measure, texts: list[str], cap: int = 400) -> tuple[float, int]:
    """Share of (at most `cap`, seeded) 150-word windows of `texts` the measure calls the author's."""
    from lib.study import authorship

    windows = [w for text in texts for w in authorship.windows(text, measure.words)]
    random.Random(0).shuffle(windows)
    found = measure.probability(windows[:cap])
    return sum(p > 0.5 for p in found) / len(found), len(found)


def main() -> None:
    from bench.validation import known_truth
    from bench.validation import population_model as pm

    from lib.data import prepare
    from lib.data.corpus import Document
    from lib.study import authorship

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=str(known_truth.SHARED))
    args = parser.parse_args()
    root = Path(args.corpora)
    a = known_truth.author_documents(root / "schopenhauer", known_truth.SCHOPENHAUER_HEADINGS, False)
    b = known_truth.author_documents(root / "chesterton", known_truth.CHESTERTON_HEADINGS, False)
    split = prepare.split_documents([Document(n, "A", t, n) for n, t in a.items()], known_truth.HELD_OUT, 0)
    train = [a[n] for n, side in split.items() if side == prepare.TRAIN]
    held = [a[n] for n, side in split.items() if side == prepare.VAL]
    books = json.loads((root / "population" / "MANIFEST.json").read_text())
    chosen = set(pm.choose_held_out(books, 20, 0))
    people = [x for x in books if not x["author"].lower().startswith(pm.NOT_ONE_AUTHOR)]
    others = [x for x in people if x["author"] not in chosen]
    random.Random(1).shuffle(others)
    unseen, rest = others[:15], others[15:]
    essays = [x for x in rest if ESSAY_TITLES.search(x["title"])]

    def texts(group: list[dict]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for book in group:
            out.setdefault(book["author"], []).append(pm.clean_book(str(root / "population" / book["f"]))[0])
        return out

    generic = texts([x for x in books if x["author"] in chosen])
    essayists = texts(essays)
    unseen_texts = [t for group in texts(unseen).values() for t in group]
    print("| generic side | Schopenhauer held out | Chesterton (unseen essayist) | 15 unseen population authors |")
    print("|---|---|---|---|")
    for name, side in [("the run's 20 population authors", generic),
                       (f"the 20 + {len(essayists)} essay-like population authors", {**generic, **essayists})]:
        measure = authorship.AuthorshipMeasure(words=150, seed=0).fit(train, side, [])
        cells = [called_hers(measure, group) for group in (held, list(b.values()), unseen_texts)]
        print(f"| {name} | " + " | ".join(f"{share:.1%} (n={n})" for share, n in cells) + " |")
    print(f"\nessay-like authors: {', '.join(sorted(essayists))}")


if __name__ == "__main__":
    main()
