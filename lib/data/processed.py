"""The processed-data contract in one place: the file names `01_data` writes and the one reader of them.

Training and the probe study read `data/processed/` only through `load_split` and `read_manifest`, so the
names, the checks and the error messages live here and nowhere else. Reading verifies every file against the
sha256 its manifest records (a file cut short or edited after `01_data` is refused, named), and `record` is
what a stage or a study writes down about the data it used: the hash, the split, each file's sha256 and the
settings it was prepared with, so that a later reader can tell whether it is still the same data (`mismatch`).

Every reader takes the processed folder itself (`*_at`), so the same checks serve any data set a run trains
on; the `cfg` forms read `processed_dir`.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

from ..files import storage
from ..settings import sample

FILES = {"pretraining": ("pretraining_train.jsonl", "pretraining_val.jsonl"),
         "instruction": ("instruction_train.jsonl", "instruction_val.jsonl")}
DOCUMENTS = "documents.jsonl"
MANIFEST = "manifest.json"
AUTHOR, CONTROL = "author", "control"   # whose data: the author's is the processed folder, the control's inside it
# the settings that shape the processed data (what `01_data` must be given again to make the same files)
DATA_KEYS = ("corpus", "split_pattern", "drop_sections", "strip_gutenberg", "unwrap_lines", "chunk_tokens",
             "chunk_overlap", "val_fraction", "val_documents", "seed", "qa_file", "template_pairs_per_document",
             "pair_answer_tokens", "min_held_out_documents", "backtranslate", "backtranslate_curate", "system_prompt", "model",
             "max_seq_length")


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


def control_config(cfg, corpus: str | None = None):
    """The settings the control author's data is prepared with: the author's own (same chunking, split rule,
    pairs recipe, seed), on the control's corpus and question-answer file, written to `processed_dir/control`.
    `val_documents` name her documents, so his held-out documents are drawn by the same rule."""
    corpus = corpus or cfg.control_corpus
    return cfg.replace(corpus=corpus, qa_file=sample.control_qa_file(cfg, corpus), val_documents=[],
                       processed_dir=str(folder(cfg, CONTROL)))


def read_manifest(cfg, author: str = AUTHOR) -> dict:
    return read_manifest_at(folder(cfg, author))


def read_manifest_at(data: Path) -> dict:
    """The data manifest of the processed folder `data`, after checking every file it lists against its sha256."""
    manifest = manifest_only(data)
    verify(data, manifest)
    return manifest


def manifest_only(data: Path) -> dict:
    """The manifest as written, files unchecked (one line naming it when it is missing or not readable)."""
    storage.recover_dir(data)
    path = data / MANIFEST
    if not path.exists():
        raise DataError(f"{path}: no processed data; run 01_data (or `python -m lib prepare`)")
    try:
        manifest = storage.read_json(path)
        files = manifest["files"]
        if not isinstance(files, dict) or not all("sha256" in v for v in files.values()):
            raise KeyError("files")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DataError(f"{path}: not a data manifest this version can read (edited by hand or cut short?); "
                        "run 01_data again") from None
    return manifest


def verify(data: Path, manifest: dict) -> None:
    """Each file the manifest lists is there and has the sha256 recorded when it was written."""
    for name, entry in sorted(manifest["files"].items()):
        path = data / name
        if not path.exists():
            raise DataError(f"{path}: missing, though {data / MANIFEST} lists it; run 01_data again")
        found = storage.sha256(path)
        if found != entry["sha256"]:
            raise DataError(f"{path}: changed since 01_data wrote it (sha256 {found[:12]}, the data manifest "
                            f"records {entry['sha256'][:12]}; cut short or edited?); run 01_data again")


def load_split(cfg, stage: str, author: str = AUTHOR) -> tuple[list[dict], list[dict], dict]:
    """Train and validation rows of a stage, and the data manifest (its hash goes into run manifests)."""
    return load_split_at(folder(cfg, author), stage)


def load_split_at(data: Path, stage: str) -> tuple[list[dict], list[dict], dict]:
    """`load_split` from the processed folder `data`, every file verified first."""
    manifest = read_manifest_at(data)
    train_name, val_name = FILES[stage]
    train_path = data / train_name
    if not train_path.exists():
        raise DataError(f"{train_path}: missing; run `python -m lib prepare --mode {stage}`")
    train, val = storage.read_jsonl(train_path), storage.read_jsonl(data / val_name)
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


# --- the corpus in force ---------------------------------------------------------------------------

def corpus_in_force(cfg) -> str:
    """The corpus the processed data was prepared from (once 01_data ran), else the configured one: the one
    place that decides whose corpus a run, a notebook or a command works with. A corpus given explicitly that
    is not the prepared one is named in a warning (the prepared data is what trains and is measured)."""
    try:
        prepared = manifest_only(folder(cfg)).get("config", {}).get("corpus")
    except DataError:
        return cfg.corpus
    if not prepared:
        return cfg.corpus
    if "corpus" in cfg.given and not same_path(prepared, cfg.corpus):
        warnings.warn(f"corpus: {cfg.corpus} was given, but {folder(cfg)} holds data prepared from {prepared}, "
                      "which is what is used; run 01_data with the corpus you mean", UserWarning, stacklevel=3)
    return prepared


def in_force(cfg):
    """`cfg` with the corpus in force (see `corpus_in_force`)."""
    corpus = corpus_in_force(cfg)
    return cfg if corpus == cfg.corpus else cfg.replace(corpus=corpus)


def same_path(a: str, b: str) -> bool:
    return storage.resolve(a).resolve() == storage.resolve(b).resolve()


# --- provenance: what a stage or a study records, and whether the data is still that ---------------------

def record(data: Path, manifest: dict) -> dict:
    """What a user of the processed folder `data` writes down about it (a verified manifest's)."""
    made = manifest.get("config", {})
    return {"hash": data_hash(manifest), "processed_dir": str(data), "corpus": made.get("corpus"),
            "documents": {side: list(manifest.get("documents", {}).get(side, [])) for side in ("train", "validation")},
            "files": {name: entry["sha256"] for name, entry in sorted(manifest["files"].items())},
            "settings": {key: made[key] for key in DATA_KEYS if key in made}}


def mismatch(recorded: dict, current: dict, files: tuple[str, ...]) -> str | None:
    """Why the data now on disk (`current`, a `record`) is not the data something was trained on
    (`recorded`), or None. The same hash is the same data; otherwise the split must be the one it was
    trained with, no document now held out may be one it trained on, and the `files` it read must be
    byte-identical (the other stage's files may have been rebuilt). A record without the split (older
    manifests) must have the same hash."""
    if recorded.get("hash") == current["hash"]:
        return None
    if not recorded.get("documents") or not recorded.get("files"):
        return "it recorded no split to compare with"
    trained = set(recorded["documents"].get("train", []))
    leaked = sorted(set(current["documents"]["validation"]) & trained)
    if leaked:
        return f"the held-out {plural(leaked, 'document')} {', '.join(leaked[:3])}{' ...' if len(leaked) > 3 else ''} " \
               f"{'was' if len(leaked) == 1 else 'were'} trained on"
    if any(sorted(recorded["documents"].get(side, [])) != sorted(current["documents"][side])
           for side in ("train", "validation")):
        return "the documents or their split differ"
    changed = [name for name in files if recorded["files"].get(name) != current["files"].get(name)]
    if changed:
        return f"{', '.join(changed)} differ"
    return None


def plural(items: list, word: str) -> str:
    return word if len(items) == 1 else word + "s"


def settings_changed(recorded: dict, current: dict) -> dict[str, tuple]:
    """Data settings that differ between two records: key -> (recorded, now)."""
    before, now = recorded.get("settings", {}), current.get("settings", {})
    return {k: (before[k], now.get(k)) for k in before if before[k] != now.get(k)}


def prepare_command(changed: dict[str, tuple]) -> str:
    """The command that prepares the data again with the recorded values of `changed` settings."""
    flags = " ".join(f"--{k} {flag_value(v)}" for k, (v, _) in changed.items() if v != [])  # [] has no spelling
    return f"python -m lib prepare {flags}".strip()


def flag_value(value) -> str:
    """A value as the command line takes it (lists as "a,b", null for None), quoted for a shell when needed."""
    import shlex

    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return shlex.quote(text) if text else "null"
