"""How well the control author matches her: what the study got, not what it asked for.

A control author is a control only if he differs from her in being another person, and in little else: the
same register, about as much text, the same training. The study reports what it got, per author and stage:
optimiser steps and tokens (from the stage manifests; the control's records what it was matched to), documents,
words per document and held-out documents, and the register distance between the two corpora (Burrows' Delta,
`lib.data.stylometry`) with where it falls among her distances to the generic corpus's authors. It warns when
the control is far from her register (more than half of the other writers nearer to her than he is) or when
the stages were not matched in tokens (more than 5% apart).
"""

from __future__ import annotations

import html
from pathlib import Path

from ..data import processed, stylometry
from ..files import storage
from ..train import matching
from ..view import display

FAR = 0.5              # share of other writers nearer to her than the control, above which he is "far"
TOKENS_APART = 0.05    # the control's stage is matched in tokens within this share of hers
FEW_WRITERS = 5        # fewer other writers than this: where the control falls is a rough placement


def stages(run: Path | None) -> list[dict]:
    """Steps and tokens of each of her stages and the control's same stage, from their manifests."""
    return matching.table(run) if run else []


def corpus(study, whose: str) -> dict:
    """Documents (training side and held out), words per document, for her or the control author."""
    held = study.author_held_out if whose == processed.AUTHOR else study.control_held_out
    train = study.author_train if whose == processed.AUTHOR else study.control_train
    try:
        split = processed.read_manifest(study.cfg, whose)["documents"]
        training = len(split.get("train", []))
    except (processed.DataError, KeyError, TypeError):
        training = None
    documents = len(held) + (training or 0)
    words = sum(len(t.split()) for t in train) + sum(len(t.split()) for texts in held.values() for t in texts)
    return {"author": "her" if whose == processed.AUTHOR else "the control", "documents": documents if training
            is not None else f"{len(held)} held out (training side unknown)", "held-out documents": len(held),
            "words": words, "words per document": round(words / documents) if training and documents else ""}


def register(study) -> dict:
    """Burrows' Delta between her corpus and the control's, and where it falls among her distances to the
    generic corpus's authors (`share_nearer`: the share of them nearer to her than the control is)."""
    others = {name: texts for name, texts in study.generic.items() if texts}
    if not others:
        return {"placed": False, "reason": "no generic corpus: the Delta between her and the control cannot be "
                                           "placed among other writers (set generic_corpus to writers of her register)"}
    hers = study.author_train + [t for texts in study.author_held_out.values() for t in texts]
    his = study.control_train + [t for texts in study.control_held_out.values() for t in texts]
    found = stylometry.register_distance(hers, his, others)
    found["placed"] = True
    if len(others) < FEW_WRITERS:
        found["note"] = f"only {len(others)} other writer(s): a rough placement"
    return found


def report(study) -> dict:
    """The match the study got, with warnings; {"control": False} without a control author."""
    if not study.has_control:
        return {"control": False}
    staged = stages(getattr(study.arms, "run", None))
    found = {"control": True, "stages": staged,
             "corpora": [corpus(study, processed.AUTHOR), corpus(study, processed.CONTROL)],
             "register": register(study), "warnings": []}
    for row in staged:
        if row["tokens, his / hers"] and abs(float(row["tokens, his / hers"]) - 1) > TOKENS_APART:
            found["warnings"].append(f"{row['stage']}: the control was trained on {row['tokens, his / hers']} times "
                                     f"her tokens (more than {TOKENS_APART:.0%} apart): his arm and hers differ in "
                                     "how much they learned as well as whom they learned")
    place = found["register"]
    if not place["placed"]:
        found["warnings"].append(place["reason"])
    elif place["share_nearer"] is not None and place["share_nearer"] > FAR:
        found["warnings"].append(f"the control is far from her register: {place['share_nearer']:.0%} of the other "
                                 f"writers are nearer to her (Delta {place['delta']:.3g}, their median "
                                 f"{place['others_median']:.3g}); contrasts against his arm then mix person and "
                                 "register")
    return found


def to_html(found: dict) -> str:
    """The match as a reader sees it: the tables, then the warnings."""
    if not found.get("control"):
        return "<p class='warn'>No control author: there is no match to report.</p>"
    parts = [display.html_table(found["stages"], title="Training: steps and tokens per stage")
             if found["stages"] else "<p>No stage manifests found for either author.</p>",
             display.html_table(found["corpora"], title="Corpora: documents, held-out documents, words")]
    place = found["register"]
    if place["placed"]:
        parts.append(f"<p>Register distance (Burrows' Delta over the {place['words']} most frequent words): "
                     f"{place['delta']:.3g} between her and the control; {place['share_nearer']:.0%} of "
                     f"{place['others']} other writers are nearer to her (their median {place['others_median']:.3g}, "
                     f"the nearest {html.escape(str(place['nearest_other']))}). "
                     f"{html.escape(place.get('note', ''))}</p>")
    parts += [f"<p class='warn'>{html.escape(w)}</p>" for w in found["warnings"]]
    return "\n".join(parts)
