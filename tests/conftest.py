"""Shared fixtures: the real tiny model, real configs pointing into temporary folders, the real corpora."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from lib.files import storage
from lib.llm import models
from lib.settings import config

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


# --- the four notebooks, run once like `make demo` (short) ---------------------------------------------------

SECRET = "hf_TESTSECRETdoNotLeak0123456789"
WANDB_SECRET = "wandbTESTSECRETdoNotLeak0123456789abcdef"  # 40 characters, like a real W&B key
# A short demo: few steps at a high rate (the tiny model then writes sentences, of a sort), DigiDan answers long
# enough to reach the cut, so that every page a person reads is built: report, questionnaire, four HTML copies.
FOUR_NOTEBOOKS = dict(model="tiny", load_in_4bit=False, max_seq_length=128, max_steps=6, eval_steps=3, save_steps=3,
                      logging_steps=1, per_device_train_batch_size=2, gradient_accumulation_steps=1,
                      learning_rate=1e-2, run_name="full", probe_max_new_tokens=32, authorship_words=20,
                      bootstrap_samples=200, digidan_samples=2, digidan_min_new_tokens=160, report_to="wandb",
                      questionnaire_purpose="A test of the pages: <these> answers mean nothing & say so.")


@dataclass
class NotebookRun:
    root: Path        # the temporary folder: outputs/ and processed/
    notebooks: Path   # outputs/full/notebooks: the executed notebooks and their HTML copies
    run: Path         # outputs/full


@pytest.fixture(scope="session")
def four_notebooks(tmp_path_factory) -> NotebookRun:
    """The four notebooks run in order by the runner, like `make demo` with fewer steps, with a token and a W&B
    key in the environment (that must leak nowhere); shared by the tests that read what the run wrote."""
    from lib.runtime import runner

    root = tmp_path_factory.mktemp("four-notebooks")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("P4_OUTPUTS", str(root / "outputs"))
        patch.setenv("HF_TOKEN", SECRET)
        patch.setenv("WANDB_API_KEY", WANDB_SECRET)
        patch.setenv("WANDB_MODE", "offline")  # no network here: W&B writes into the stage folders
        out = runner.run_notebooks({**FOUR_NOTEBOOKS, "processed_dir": str(root / "processed")})
    return NotebookRun(root, out, root / "outputs" / FOUR_NOTEBOOKS["run_name"])

