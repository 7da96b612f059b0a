"""Shared fixtures: the real tiny model, real configs pointing into temporary folders, the real corpora."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
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


@dataclass
class TinyRun:
    cfg: config.Config
    stage1: object      # StageResult of each stage, with its trained model in memory
    stage2: object
    root: Path          # P4_OUTPUTS points to root / "outputs" while a test uses the run

    @contextlib.contextmanager
    def outputs(self):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("P4_OUTPUTS", str(self.root / "outputs"))
            yield self.root / "outputs"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    """One run of the tiny model with both stages trained, shared by every test that only reads a run."""
    from lib.data import prepare
    from lib.train import stage

    root = tmp_path_factory.mktemp("tiny-run")
    cfg = config.load_config(ROOT / "config.yaml", model="tiny", load_in_4bit=False, max_seq_length=256,
                             processed_dir=str(root / "processed"), run_name="tiny-run", max_steps=8,
                             per_device_train_batch_size=4, gradient_accumulation_steps=1, learning_rate=2e-2)
    run = TinyRun(cfg, None, None, root)
    with run.outputs():
        prepare.run(cfg, verbose=False)
        run.stage1 = stage.train_stage(cfg, "pretraining", progress=False)
        run.stage2 = stage.train_stage(cfg, "instruction", progress=False)
    return run


@dataclass
class OwnData:
    corpus: Path        # the sample's text under another name: "your" corpus, as the project sees it
    processed: Path     # prepared from it with seed 7 (another split than the tiny run's seed 42)
    manifest: dict


@pytest.fixture(scope="session")
def own_data(tmp_path_factory) -> OwnData:
    """Processed data of a corpus that is not the sample (by path), split with another seed, made once."""
    import shutil

    from lib.data import prepare

    root = tmp_path_factory.mktemp("own-data")
    corpus = root / "my_essays.txt"
    shutil.copy(SAMPLE, corpus)
    cfg = make_cfg(root, corpus=str(corpus), seed=7, qa_file="null")
    manifest = prepare.run(cfg, verbose=False)
    return OwnData(corpus, root / "processed", manifest)
