"""The data stage end to end: split by document, write the processed files and their manifest.

Everything a document produces (its chunks, its pairs) falls on one side of the split, so validation
loss measures text the model has never seen. The split is seeded; the same inputs and seed give
byte-identical files, and `manifest.json` records the seed, both sides, the configuration and the
sha256 of every file. Files are written into a staging folder that replaces the old one in one step.
"""

from __future__ import annotations

import random
import shutil
import warnings
from collections import defaultdict
from pathlib import Path

from ..files import locks, storage
from ..runtime import install
from ..settings import sample
from . import chunking, cleaning, corpus, pairs, processed
from .corpus import Document
from .processed import DOCUMENTS, FILES, MANIFEST

TRAIN, VAL = "train", "validation"


class SplitError(ValueError):
    """A split that cannot hold out at least one document and keep at least one for training."""


def split_documents(docs: list[Document], val_fraction: float, seed: int,
                    val_documents: list[str] | None = None, advice: str | None = None,
                    min_held_out: int = 1) -> dict[str, str]:
    """Document name -> "train" or "validation"; seeded, spread over categories, at least one each. At least
    `min_held_out` documents are held out (the study's intervals rest on them) where that leaves at least as
    many for training; a smaller corpus holds out half, with a warning."""
    names = [d.name for d in docs]
    if len(names) < 2:
        raise SplitError(f"only {len(names)} document: the split needs at least 2 ("
                         + (advice or "give split_pattern to cut a long file into documents") + ")")
    if val_documents:
        unknown = sorted(set(val_documents) - set(names))
        if unknown:
            raise SplitError(f"val_documents names documents not in the corpus: {', '.join(unknown)}")
        if len(set(val_documents)) >= len(names):
            raise SplitError("val_documents holds out every document; keep at least one for training")
        held = set(val_documents)
    else:
        n_val = held_out_count(len(names), val_fraction, min_held_out)
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


def held_out_count(documents: int, val_fraction: float, floor: int = 1) -> int:
    """How many documents to hold out: `val_fraction` of them, but at least `floor` while as many are left to
    train on (a corpus too small for the floor holds out half and is warned about)."""
    count = max(min(documents - 1, max(1, round(val_fraction * documents))), min(floor, documents // 2))
    if count < floor:
        warnings.warn(f"{documents} documents: {count} held out, fewer than min_held_out_documents ({floor}); the "
                      "study's claim-1 intervals need that many per author, so its headline may not be computed. "
                      "Add documents, or split long ones (split_pattern)", UserWarning, stacklevel=3)
    return count


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


def one_document_advice(cfg, docs: list[Document]) -> str:
    """What to do about a corpus that came out as one document, fitted to how it was read."""
    if cfg.split_pattern:
        found = "matched only 1 heading" if any(d.heading for d in docs) else "matched no heading"
        return (f"split_pattern {cfg.split_pattern!r} {found} in {cfg.corpus}; `python -m lib prepare --dry-run "
                "--split_pattern PATTERN` lists the headings a pattern matches")
    return ("give split_pattern to cut a long file into documents at its headings; `python -m lib prepare "
            "--dry-run` shows how a pattern splits it")


def lock(out_dir: Path) -> locks.Lock:
    """The processed folder's lock (held while it is written; re-entrant in one process)."""
    return locks.acquire(out_dir.parent / f".{out_dir.name}.lock", f"prepare into {out_dir}")


def kept_stage_problem(old_manifest: dict, split: dict[str, str], tokenizer_name: str) -> str | None:
    """Why the other stage's files from an earlier run no longer fit this one (another split or tokenizer)."""
    if not old_manifest:
        return None
    old = old_manifest.get("documents", {})
    new = {TRAIN: sorted(n for n, s in split.items() if s == TRAIN), VAL: sorted(n for n, s in split.items() if s == VAL)}
    if {k: sorted(v) for k, v in old.items()} != new:
        return (f"they were split with seed {old_manifest.get('seed')} into other train/validation documents "
                "than this run's")
    if old_manifest.get("tokenizer") != tokenizer_name:
        return f"they were cut with the tokenizer of '{old_manifest.get('tokenizer')}', not '{tokenizer_name}'"
    return None


def write_processed(out_dir: Path, cfg, *, chunks: list[dict] | None, pair_rows: list[dict] | None,
                    split: dict[str, str], documents: list[dict], tokenizer_name: str,
                    extra: dict | None = None) -> dict:
    """Write the split files and manifest.json atomically; return the manifest.

    `chunks` or `pair_rows` may be None (prepare --mode pretraining|instruction): the other stage's
    files already in `out_dir` are kept, with their manifest entries, only if they were made with the same
    split and tokenizer (otherwise one stage would validate on documents the other trains on).
    """
    with lock(out_dir):
        storage.clean_staging(out_dir)
        return _write_processed(out_dir, cfg, chunks=chunks, pair_rows=pair_rows, split=split,
                                documents=documents, tokenizer_name=tokenizer_name, extra=extra)


def _write_processed(out_dir: Path, cfg, *, chunks, pair_rows, split, documents, tokenizer_name, extra) -> dict:
    old_manifest = storage.read_json(out_dir / MANIFEST) if (out_dir / MANIFEST).exists() else {}
    if chunks is None or pair_rows is None:
        kept = "pretraining" if chunks is None else "instruction"
        problem = kept_stage_problem(old_manifest, split, tokenizer_name)
        if problem and any((out_dir / name).exists() for name in FILES[kept]):
            raise SplitError(f"{out_dir}: the {kept} files there cannot be kept: {problem}; run prepare "
                             "--mode both")
    staging = storage.staging_dir(out_dir)
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


def print_cleaning(docs: corpus.Corpus, reports: list[dict]) -> None:
    """What `01_data` shows after reading and cleaning: what each file lost as a whole, and the cleaning table."""
    import pandas as pd

    from . import preview

    for d in preview.dropped(docs):
        print(f"dropped from {d['file']}: {d['removed']} ({d['amount']})")
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
        print(cleaning.table(reports).to_string())


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
    from ..llm import models

    out_dir = storage.processed_dir(cfg)
    tokenizer = tokenizer or models.load_tokenizer(cfg)  # first: an unreachable hub fails in seconds
    with lock(out_dir):
        loaded = corpus.from_config(cfg, verbose=verbose)
        docs, reports = cleaning.clean_corpus(loaded, cfg.unwrap_lines)
        if verbose:
            print_cleaning(docs, reports)
        split = split_documents(docs, cfg.val_fraction, cfg.seed, cfg.val_documents, one_document_advice(cfg, docs),
                                cfg.min_held_out_documents)
        mode = widened_mode(cfg, mode, out_dir, split, generate)
        chunks = chunking.chunk_corpus(docs, tokenizer, cfg.effective_chunk_tokens, cfg.chunk_overlap)
        built, dropped = build_pairs(cfg, docs, tokenizer, generate) if mode != "pretraining" else (None, [])
        manifest = save(cfg, docs, chunks if mode != "instruction" else None, split,
                        document_table(docs, reports, chunks, split), built, dropped)
    if verbose:
        print_counts(manifest)
    return manifest


def run_control(cfg, tokenizer=None, generate=None, verbose: bool = True) -> dict | None:
    """The control author's data, prepared exactly like the author's into `processed_dir/control` (after hers:
    preparing hers replaces the processed folder, his inside it). None, and nothing written, without a control
    corpus (`control_corpus: null`, or the sample's control beside your own corpus)."""
    chosen = sample.control_corpus(cfg)
    if chosen is None:
        if verbose:
            print("no control author (control_corpus is not set): the study will say which claims it cannot make")
        return None
    if verbose:
        print(f"the control author: {chosen}")
    return run(processed.control_config(cfg, chosen), "both", tokenizer, generate, verbose)


def save(cfg, docs: corpus.Corpus, chunks: list[dict] | None, split: dict[str, str], documents: list[dict],
         built: list[dict] | None = None, dropped: list[dict] = ()) -> dict:
    """Write what the stage made into the processed folder (`chunks` None: the instruction files only;
    `built` None: the pre-training files only), with what the files lost and where the pairs came from in
    the manifest; returns the manifest."""
    extra, pair_rows = {"removed_from_files": docs.file_reports}, None
    if built is not None:
        pair_rows = [pairs.to_chat(p, cfg.system_prompt) for p in built]
        extra |= {"pairs_by_source": count_by(built, "source"), "backtranslation_dropped": len(dropped)}
    return write_processed(storage.processed_dir(cfg), cfg, chunks=chunks, pair_rows=pair_rows, split=split,
                           documents=documents, tokenizer_name=cfg.model, extra=extra)


def widened_mode(cfg, mode: str, out_dir: Path, split: dict[str, str], generate) -> str:
    """`both` when the other stage's files in `out_dir` no longer fit this split or tokenizer (and say so).

    Backtranslated pairs need the base model; without it the run stops rather than keep pairs split
    another way.
    """
    if mode == "both" or not (out_dir / MANIFEST).exists():
        return mode
    other = "instruction" if mode == "pretraining" else "pretraining"
    problem = kept_stage_problem(storage.read_json(out_dir / MANIFEST), split, cfg.model)
    if problem is None or not any((out_dir / name).exists() for name in FILES[other]):
        return mode
    if other == "instruction" and cfg.backtranslate and generate is None:
        raise SplitError(f"{out_dir}: the instruction files there cannot be kept ({problem}) and rebuilding them "
                         "needs the base model for backtranslation; run prepare --mode both")
    print(f"the {other} files in {storage.shown_path(out_dir)} are rebuilt too: {problem}")
    return "both"


def build_pairs(cfg, docs: list[Document], tokenizer, generate=None) -> tuple[list[dict], list[dict]]:
    """All three sources, merged; returns (pairs, backtranslations the curation dropped)."""
    groups = [pairs.template_pairs(docs, tokenizer, cfg.template_pairs_per_document, cfg.pair_answer_tokens,
                                   cfg.seed)]
    if sample.usable(cfg, "qa_file"):
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
