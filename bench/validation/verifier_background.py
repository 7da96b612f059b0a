"""Should other writers join the control's side of the two-author verifier? Measured by the placebo.

For each pair of the oracles (`lib.study.oracle_sources`: the default pair and the population-built one), the
verifier (`lib.study.verifier`) is fitted on the author's and the control's training-side chunks with three
backgrounds: none; the generic side's population writers (novels, history, travel: an excerpt each); those
and the essay-like population writers (her register, as a generic corpus should be). Each is calibrated on
both authors' held-out documents and asked about 150-word windows of: the control's held-out documents, the
other voice (a third essay-like writer nearest the author by Delta, nowhere in training: the placebo) and the
other voice's passages nearest her in topic. A verifier fit for claim 3 calls the placebo hers no more often
than the control's own text.

    python -m bench.validation.verifier_background [--corpora ../shared/corpora]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shares(v, texts: list[str]) -> str:
    found = [x for x in v.hers(texts) if x is not None]
    return f"{sum(found) / len(found):.3f}"


def main() -> None:
    from lib.study import authorship, oracle, oracle_sources, verifier
    from lib.study.study import by_document, strip_eos

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    args = parser.parse_args()
    root = Path(args.corpora)
    print("| pair | background | ROC-AUC | c@1 | Brier | control's held-out text called hers | placebo called hers "
          "| placebo in her topics called hers | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, load in (("default", oracle_sources.shared_sources), ("population", oracle_sources.population_sources)):
        sources = load(root)
        split = {}
        for side, docs in (("a", sources.author_train), ("ah", sources.author_held_out),
                           ("c", sources.control_train), ("ch", sources.control_held_out)):
            split[side], eos = oracle_sources.rows(docs, 2048)
        mine, theirs = ([strip_eos(r["text"], eos) for r in split[k]] for k in ("a", "c"))
        held, control_held = by_document(split["ah"], eos), by_document(split["ch"], eos)
        control = [w for texts in control_held.values() for t in texts for w in authorship.windows(t, 150)]
        other = [w for t in sources.other for w in authorship.windows(t, 150)][:400]
        topics = [w for p in oracle.nearest(oracle.passages(sources.other), list(sources.author_train.values()))
                  if (w := authorship.first_window(p, 150))]
        essays = set(oracle_sources.delta_texts(root / "population"))
        backgrounds = {"none": {}, "population writers": {k: v for k, v in sources.generic.items() if k not in essays},
                       "population + essay-like writers": sources.generic}
        for name, background in backgrounds.items():
            start = time.time()
            v = verifier.Verifier(words=150).fit(mine, theirs, background)
            q = v.calibrate(held, control_held, resamples=500)
            print(f"| {label}: {sources.names['author']} / {sources.names['control']}, placebo "
                  f"{sources.names['other voice']} | {name} ({len(v.background)}) | {q.auc.mean:.3f} | "
                  f"{q.c_at_1.mean:.3f} | {q.brier.mean:.3f} | {shares(v, control)} | {shares(v, other)} | "
                  f"{shares(v, topics)} | {time.time() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
