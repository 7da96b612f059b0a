"""Shared fixtures: the real tiny model, real configs pointing into temporary folders, the real corpora."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from lib import config, models, storage

ROOT = storage.PROJECT_ROOT
SHARED_CORPORA = ROOT.parent / "shared" / "corpora"
SAMPLE = ROOT / "data" / "sample" / "complete_corpus.txt"

os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

needs_shared = pytest.mark.skipif(not SHARED_CORPORA.exists(), reason="../shared/corpora not present")


def make_cfg(tmp_path: Path, **overrides) -> config.Config:
    """The project's config.yaml with the tiny model and outputs under tmp_path."""
    values = dict(model="tiny", load_in_4bit=False, max_seq_length=256, processed_dir=str(tmp_path / "processed"))
    values.update(overrides)
    return config.load_config(ROOT / "config.yaml", **values)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return models.load_tokenizer(config.load_config(ROOT / "config.yaml", model="tiny"))


@pytest.fixture
def cfg(tmp_path):
    return make_cfg(tmp_path)


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """Send runs to a temporary outputs folder."""
    monkeypatch.setattr(storage, "outputs_dir", lambda: tmp_path / "outputs")
    return tmp_path / "outputs"


@contextlib.contextmanager
def trained_run(root: Path, run_name: str, **overrides):
    """A run of the tiny model with both stages trained, its outputs under `root` (module fixtures)."""
    from lib import prepare, training

    os.environ["P4_OUTPUTS"] = str(root / "outputs")
    try:
        cfg = config.load_config(ROOT / "config.yaml", **{
            "model": "tiny", "load_in_4bit": False, "processed_dir": str(root / "processed"),
            "run_name": run_name, "gradient_accumulation_steps": 1, **overrides})
        prepare.run(cfg, verbose=False)
        training.train_stage(cfg, "pretraining", progress=False)
        result = training.train_stage(cfg, "instruction", progress=False)
        yield cfg, result
    finally:
        os.environ.pop("P4_OUTPUTS", None)
