"""The processed-data contract in one place: the file names `01_data` writes and the one reader of them.

Training and the probe study read `data/processed/` only through `load_split` and `read_manifest`, so the
names, the checks and the error messages live here and nowhere else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .. import storage

FILES = {"pretraining": ("pretraining_train.jsonl", "pretraining_val.jsonl"),
         "instruction": ("instruction_train.jsonl", "instruction_val.jsonl")}
DOCUMENTS = "documents.jsonl"
MANIFEST = "manifest.json"
AUTHOR, CONTROL = "author", "control"   # whose data: the author's is the processed folder, the control's inside it


class DataError(RuntimeError):
    """Processed data that is missing or does not fit the run; the message says what to run."""


def folder(cfg, author: str = AUTHOR) -> Path:
    """The processed folder of the author (`processed_dir`) or of the control author (`processed_dir/control`);
    one left half-swapped by a killed `prepare` is put back first."""
    path = storage.processed_dir(cfg)
    storage.recover_dir(path)
    if author == CONTROL:
        path = path / CONTROL
        storage.recover_dir(path)
    return path


def has_control(cfg) -> bool:
    """Whether 01_data prepared a control author beside the author."""
    return (folder(cfg, CONTROL) / MANIFEST).exists()


def read_manifest(cfg, author: str = AUTHOR) -> dict:
    path = folder(cfg, author) / MANIFEST
    if not path.exists():
        whose = "the control author's" if author == CONTROL else "no"
        raise DataError(f"{path}: {whose} processed data; run 01_data (or `python -m lib prepare`)"
                        + (" with control_corpus set" if author == CONTROL else ""))
    return storage.read_json(path)


def load_split(cfg, stage: str, author: str = AUTHOR) -> tuple[list[dict], list[dict], dict]:
    """Train and validation rows of a stage, and the data manifest (its hash goes into run manifests)."""
    manifest = read_manifest(cfg, author)
    train_name, val_name = FILES[stage]
    train_path = folder(cfg, author) / train_name
    if not train_path.exists():
        raise DataError(f"{train_path}: missing; run `python -m lib prepare --mode {stage}`")
    train, val = storage.read_jsonl(train_path), storage.read_jsonl(folder(cfg, author) / val_name)
    if not train:
        raise DataError(f"{train_path}: no training rows for stage '{stage}'")
    return train, val, manifest


def check_fits(cfg, stage: str, manifest: dict) -> None:
    """The data was cut for this run: the same tokenizer, and (stage 1) chunks no longer than its window.

    Chunks longer than `max_seq_length` would be silently truncated by the trainer (their ends, and their
    EOS, never trained on); chunks counted in another model's tokens have other lengths altogether.
    """
    path = folder(cfg) / MANIFEST
    made_for = manifest.get("tokenizer")
    if made_for and made_for != cfg.model:
        raise DataError(f"{path}: the data was tokenised for model '{made_for}', this run trains '{cfg.model}'; "
                        f"run 01_data again with model = {cfg.model!r}")
    chunk = manifest.get("chunk_tokens")
    if stage == "pretraining" and chunk and chunk > cfg.max_seq_length:
        raise DataError(f"{path}: chunks are up to {chunk} tokens but max_seq_length is {cfg.max_seq_length}; "
                        f"run 01_data again with chunk_tokens <= {cfg.max_seq_length}, or raise max_seq_length")


def data_hash(manifest: dict) -> str:
    """One hash for the whole processed data set (what training runs record)."""
    joined = "".join(f"{k}:{v['sha256']}" for k, v in sorted(manifest["files"].items()))
    return hashlib.sha256(joined.encode()).hexdigest()
