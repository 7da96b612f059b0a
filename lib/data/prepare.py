"""The data stage end to end: split by document, write the processed files and their manifest.

Everything a document produces (its chunks, its pairs) falls on one side of the split, so validation
loss measures text the model has never seen. The split is seeded; the same inputs and seed give
byte-identical files, and `manifest.json` records the seed, both sides, the configuration and the
sha256 of every file. Files are written into a staging folder that replaces the old one in one step.
"""

from __future__ import annotations

import random
import shutil
from collections import defaultdict
from pathlib import Path

from .. import install, storage
from . import chunking, cleaning, corpus, pairs
from .corpus import Document
from .processed import DOCUMENTS, FILES, MANIFEST

TRAIN, VAL = "train", "validation"


class SplitError(ValueError):
    """A split that cannot hold out at least one document and keep at least one for training."""


def split_documents(docs: list[Document], val_fraction: float, seed: int,
                    val_documents: list[str] | None = None) -> dict[str, str]:
    """Document name -> "train" or "validation"; seeded, spread over categories, at least one each."""
    names = [d.name for d in docs]
    if len(names) < 2:
        raise SplitError(f"only {len(names)} document: the split needs at least 2 (give split_pattern to cut "
                         "a long file into documents)")
    if val_documents:
        unknown = sorted(set(val_documents) - set(names))
        if unknown:
            raise SplitError(f"val_documents names documents not in the corpus: {', '.join(unknown)}")
        if len(set(val_documents)) >= len(names):
            raise SplitError("val_documents holds out every document; keep at least one for training")
        held = set(val_documents)
    else:
        n_val = min(len(names) - 1, max(1, round(val_fraction * len(names))))
        order = sorted(names)
        random.Random(seed).shuffle(order)
        by_category: dict[str, list[str]] = defaultdict(list)
        category = {d.name: d.category for d in docs}
        for name in order:
            by_category[category[name]].append(name)
        held, cycle = set(), sorted(by_category)
        while len(held) < n_val:
            for cat in cycle:
                if by_category[cat] and len(held) < n_val:
                    held.add(by_category[cat].pop(0))
    return {name: VAL if name in held else TRAIN for name in names}


def document_table(docs: list[Document], reports: list[dict], chunks: list[dict],
                   split: dict[str, str]) -> list[dict]:
    """One row per document: what the notebook's table and the manifest show."""
    tokens = defaultdict(int)
    n_chunks = defaultdict(int)
    for c in chunks:
        tokens[c["document"]] += c["n_tokens"]
        n_chunks[c["document"]] += 1
    rows = []
    for doc, report in zip(docs, reports):
        rows.append({"category": doc.category, "document": doc.name, "side": split.get(doc.name, ""),
                     "chars_before": report["chars_before"], "chars": report["chars_after"],
                     "tokens": tokens[doc.name], "chunks": n_chunks[doc.name],
                     "cleaning": cleaning.summarise(report)})
    return rows


def write_processed(out_dir: Path, cfg, *, chunks: list[dict] | None, pair_rows: list[dict] | None,
                    split: dict[str, str], documents: list[dict], tokenizer_name: str,
                    extra: dict | None = None) -> dict:
    """Write the split files and manifest.json atomically; return the manifest.

    `chunks` or `pair_rows` may be None (prepare --mode pretraining|instruction): the other stage's
    files already in `out_dir` are kept, with their manifest entries.
    """
    staging = storage.staging_dir(out_dir)
    old_manifest = storage.read_json(out_dir / MANIFEST) if (out_dir / MANIFEST).exists() else {}
    files, counts = {}, {}
    try:
        for stage, rows in (("pretraining", chunks), ("instruction", pair_rows)):
            if rows is None:
                for name in FILES[stage]:
                    if (out_dir / name).exists() and name in old_manifest.get("files", {}):
                        shutil.copy2(out_dir / name, staging / name)
                        files[name] = old_manifest["files"][name]
                counts[stage] = old_manifest.get("counts", {}).get(stage)
                continue
            train = [r for r in rows if split[r["document"]] == TRAIN]
            val = [r for r in rows if split[r["document"]] == VAL]
            for name, part in zip(FILES[stage], (train, val)):
                storage.write_jsonl(staging / name, part)
                files[name] = {"sha256": storage.sha256(staging / name), "rows": len(part)}
            counts[stage] = {"train": len(train), "validation": len(val)}
        storage.write_jsonl(staging / DOCUMENTS, documents)
        files[DOCUMENTS] = {"sha256": storage.sha256(staging / DOCUMENTS), "rows": len(documents)}
        manifest = {
            "seed": cfg.seed,
            "documents": {TRAIN: sorted(n for n, s in split.items() if s == TRAIN),
                          VAL: sorted(n for n, s in split.items() if s == VAL)},
            "tokenizer": tokenizer_name,
            "chunk_tokens": cfg.effective_chunk_tokens,
            "counts": counts,
            "files": files,
            "config": cfg.as_dict(),
            "versions": install.versions(),
            **(extra or {}),
        }
        storage.write_json(staging / MANIFEST, manifest)
        storage.replace_dir(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


def print_counts(manifest: dict) -> None:
    """The seed study's closing lines."""
    for stage, label in (("pretraining", "Pre-training"), ("instruction", "Instruction")):
        c = manifest["counts"].get(stage)
        if c:
            print(f"{label}: {c['train']} train, {c['validation']} val samples")


def run(cfg, mode: str = "both", tokenizer=None, generate=None, verbose: bool = True) -> dict:
    """The whole data stage (what `python -m lib prepare` runs and `01_data` shows step by step)."""
    if mode not in ("pretraining", "instruction", "both"):
        raise ValueError(f"mode must be pretraining, instruction or both, not {mode!r}")
    from .. import models

    docs = corpus.from_config(cfg, verbose=verbose)
    docs, reports = cleaning.clean_corpus(docs, cfg.unwrap_lines)
    tokenizer = tokenizer or models.load_tokenizer(cfg)
    split = split_documents(docs, cfg.val_fraction, cfg.seed, cfg.val_documents)
    chunks = chunking.chunk_corpus(docs, tokenizer, cfg.effective_chunk_tokens, cfg.chunk_overlap)
    pair_rows, extra = None, {}
    if mode in ("instruction", "both"):
        built, dropped = build_pairs(cfg, docs, tokenizer, generate)
        pair_rows = [pairs.to_chat(p, cfg.system_prompt) for p in built]
        extra["pairs_by_source"] = count_by(built, "source")
        extra["backtranslation_dropped"] = len(dropped)
    manifest = write_processed(
        storage.processed_dir(cfg), cfg, chunks=chunks if mode != "instruction" else None,
        pair_rows=pair_rows, split=split, documents=document_table(docs, reports, chunks, split),
        tokenizer_name=cfg.model, extra=extra)
    if verbose:
        print_counts(manifest)
    return manifest


def build_pairs(cfg, docs: list[Document], tokenizer, generate=None) -> tuple[list[dict], list[dict]]:
    """All three sources, merged; returns (pairs, backtranslations the curation dropped)."""
    groups = [pairs.template_pairs(docs, tokenizer, cfg.template_pairs_per_document, cfg.pair_answer_tokens,
                                   cfg.seed)]
    if cfg.qa_file:
        groups.append(pairs.researcher_pairs(storage.find_input(cfg.qa_file), docs))
    dropped: list[dict] = []
    if cfg.backtranslate:
        if generate is None:
            raise ValueError("backtranslate=True needs a model: pass generate= (01_data loads the base model)")
        kept, dropped = pairs.backtranslated_pairs(docs, tokenizer, generate, cfg.template_pairs_per_document,
                                                   cfg.pair_answer_tokens, cfg.backtranslate_curate)
        groups.append(kept)
    return pairs.merge(*groups), dropped


def count_by(rows: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r[key]] += 1
    return dict(sorted(out.items()))
