"""The control author's stages: the same code as hers, his data, her stage's optimiser steps.

Every headline compares her arm with the control author's (another person in her register, trained the same
way), so the two must differ in whose text they read and in nothing else: the same base, recipe, seed and
settings, and the same number of optimiser steps over the same effective batch and sequence length, which packs
as many tokens (the study's match table checks the tokens recorded in both manifests, within 5%). His stage is
therefore trained after hers, from her finished stage's manifest.
"""

from __future__ import annotations

from pathlib import Path

from ..data import processed
from ..files import storage
from . import provenance
from .folders import CONTROL, LABELS, STAGES, StageError, folder_name


def control_config(cfg, stage: str) -> tuple[object, dict]:
    """The settings the control author's `stage` trains with, and what they were matched to (his manifest
    records it): her settings on his processed data, for as many steps as her finished stage took."""
    if not processed.has_control(cfg):
        raise StageError(f"{processed.folder(cfg, processed.CONTROL)}: no control author's data; set control_corpus "
                         "to another person's writing in her register and run 01_data (it prepares both)")
    hers = storage.run_dir(cfg.run_name) / folder_name(stage, cfg)
    if not (hers / provenance.MANIFEST).exists():
        raise StageError(f"{hers}: her stage has not finished; the control's is matched to its steps, so train hers "
                         "first (same run_name)")
    manifest = provenance.stage_manifest(hers)
    steps = int(manifest.get("steps") or 0)
    if steps < 1:
        raise StageError(f"{hers / provenance.MANIFEST}: records no optimiser steps to match; train her stage again")
    matched = {"arm": hers.name, "steps": steps, "tokens": (manifest.get("resources") or {}).get("tokens")}
    data = processed.folder(cfg, processed.CONTROL)
    corpus = processed.manifest_only(data).get("config", {}).get("corpus") or cfg.control_corpus  # his, as prepared
    his = cfg.replace(processed_dir=str(data), corpus=corpus, qa_file=cfg.control_qa_file, val_documents=[])
    return his.replace(max_steps=steps), matched


def describe(matched: dict) -> str:
    """One line for the notebook and the match table."""
    tokens = matched.get("tokens")
    return (f"matched to {matched['arm']}: {matched['steps']} optimiser steps"
            + (f" ({tokens:,} tokens)" if isinstance(tokens, int) else ""))


def table(run: Path) -> list[dict]:
    """Steps and tokens of each of her stages and the control's same stage, from their manifests."""
    rows = []
    for hers in STAGES:
        his = CONTROL + hers
        found = {}
        for whose, arm in (("her", hers), ("his", his)):
            path = Path(run) / arm / provenance.MANIFEST
            found[whose] = storage.read_json(path) if path.exists() else None
        if not found["her"] and not found["his"]:
            continue
        row = {"stage": LABELS[hers]}
        for whose, manifest in found.items():
            row[f"{whose} steps"] = manifest.get("steps") if manifest else "not trained"
            row[f"{whose} tokens"] = (manifest.get("resources") or {}).get("tokens") if manifest else "not trained"
        her_tokens, his_tokens = row["her tokens"], row["his tokens"]
        ratio = his_tokens / her_tokens if all(isinstance(t, int) and t for t in (her_tokens, his_tokens)) else None
        row["tokens, his / hers"] = "" if ratio is None else f"{ratio:.3f}"
        recorded = (found["his"] or {}).get("matched_to")
        row["matched to (his manifest)"] = describe(recorded) if isinstance(recorded, dict) else ""
        rows.append(row)
    return rows
