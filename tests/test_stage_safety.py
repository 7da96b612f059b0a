"""Nothing lost, no surprises: what a training stage does with finished work, damaged checkpoints, the wrong
checkpoint, a mismatched adapter, a read-only folder, a full disk, a second run at once, and the seed."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lib.data import prepare, processed
from lib.files import storage
from lib.llm import models
from lib.settings import config
from lib.train import folders, lora, provenance
from lib.train import stage as training
from tests.conftest import ROOT, make_cfg

FAST = dict(model="tiny", load_in_4bit=False, max_seq_length=128, per_device_train_batch_size=4,
            gradient_accumulation_steps=1, learning_rate=2e-2, warmup_ratio=0.0, logging_steps=1, eval_steps=1000,
            save_steps=1000)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Chunks for the 128-token window, shared by the module's runs."""
    folder = tmp_path_factory.mktemp("stage-safety") / "processed"
    prepare.run(make_cfg(folder.parent, processed_dir=str(folder), max_seq_length=128), verbose=False)
    return folder


@pytest.fixture
def cfg(data_dir, outputs):
    return config.load_config(ROOT / "config.yaml", **FAST, processed_dir=str(data_dir), run_name="safe")


@pytest.fixture(scope="module")
def finished(data_dir, tmp_path_factory) -> Path:
    """One finished stage 1 (two steps, a checkpoint after each), trained once; tests work on copies of it."""
    root = tmp_path_factory.mktemp("finished")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "outputs_dir", lambda: root)
        cfg = config.load_config(ROOT / "config.yaml", **FAST, processed_dir=str(data_dir), run_name="template")
        training.train_stage(cfg.replace(max_steps=2, save_steps=1), "pretraining", progress=False)
    return root / "template" / "pretraining"


def finished_copy(finished: Path, outputs: Path, run: str = "safe") -> Path:
    shutil.copytree(finished, outputs / run / "pretraining")
    return outputs / run / "pretraining"


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- the seed -------------------------------------------------------------------------------------------

def trained_lora(cfg) -> dict:
    """The LoRA weights after training a stage's set-up (nothing saved: the weights are what matters)."""
    setup = training.setup_stage(cfg, "pretraining", progress=False)
    try:
        setup.trainer.train()
    finally:
        setup.release()
    return {k: v.detach().clone() for k, v in setup.trainer.model.state_dict().items() if "lora_" in k}


def test_the_same_inputs_and_seed_give_the_same_adapter(cfg):
    # two steps: lora_B starts at zero, so the first step's update (and all after it) depends on lora_A's draw
    a = trained_lora(cfg.replace(max_steps=2, run_name="seed-a"))
    torch.manual_seed(12345)  # whatever ran before must not matter
    b = trained_lora(cfg.replace(max_steps=2, run_name="seed-b"))
    assert a.keys() == b.keys() and a and all(torch.equal(a[k], b[k]) for k in a)
    other = trained_lora(cfg.replace(max_steps=2, run_name="seed-c", seed=7))
    assert not all(torch.equal(a[k], other[k]) for k in a), "the seed matters"


# --- finished stages ------------------------------------------------------------------------------------

def test_resume_auto_never_touches_a_finished_stage(cfg, finished, outputs):
    folder = finished_copy(finished, outputs)
    before = snapshot(folder)
    for steps in (1, 4):
        with pytest.raises(folders.RunExistsError, match="already finished; there is nothing to resume"):
            training.train_stage(cfg.replace(max_steps=steps, resume="auto"), "pretraining", progress=False)
    assert snapshot(folder) == before


def test_overwrite_checks_every_input_before_deleting_anything(cfg, tmp_path, finished, outputs):
    folder = finished_copy(finished, outputs)
    before = snapshot(folder)
    bad = [(dict(processed_dir=str(tmp_path / "nowhere")), processed.DataError),
           (dict(use_unsloth=True), models.BackendError),
           (dict(resume=str(tmp_path)), folders.StageError)]
    for change, error in bad:
        with pytest.raises(error):
            training.train_stage(cfg.replace(max_steps=2, overwrite=True, **change), "pretraining", progress=False)
        assert snapshot(folder) == before, change
    again = training.train_stage(cfg.replace(max_steps=2, overwrite=True), "pretraining", progress=False)
    assert json.loads((again.folder / "manifest.json").read_text())["steps"] == 2


def test_your_corpus_with_the_samples_compare_prompts_warns_before_training(cfg, own_data):
    # 02 has no corpus parameter: the corpus in force is the one the processed data was prepared from
    own = cfg.replace(max_steps=1, processed_dir=str(own_data.processed), max_seq_length=256)
    with pytest.warns(UserWarning, match=rf"compare_prompts: data/prompts/compare\.txt holds the sample author's .*"
                                         rf"\({own_data.corpus}\)"):
        setup = training.setup_stage(own, "pretraining", progress=False)
    assert setup.cfg.corpus == str(own_data.corpus)
    result = training.run(setup)
    from lib.llm import chat  # chat --test puts the same questions to the stage: the same warning, naming your corpus

    with pytest.warns(UserWarning, match=rf"holds the sample author's .*\({own_data.corpus}\)"):
        chat.run_cli(str(result.folder), cfg.replace(max_new_tokens=2), None, True, False)


# --- checkpoints ----------------------------------------------------------------------------------------

def unfinished_run(finished: Path, outputs: Path) -> Path:
    """A stage-1 run that saved checkpoints 1 and 2 and then 'died' (its manifest and adapter missing)."""
    folder = finished_copy(finished, outputs)
    (folder / "manifest.json").unlink()
    shutil.rmtree(folder / "adapter")
    return folder


def test_a_rerun_resumes_by_default(cfg, finished, outputs):
    unfinished_run(finished, outputs)
    assert config.Config().resume == "auto" and "resume" not in cfg.given
    setup = training.setup_stage(cfg.replace(max_steps=3), "pretraining", progress=False)
    setup.release()
    assert setup.checkpoint.name == "checkpoint-2"


def test_checkpoints_are_never_dropped_silently(cfg, finished, outputs, capsys):
    folder = unfinished_run(finished, outputs)
    with pytest.raises(folders.StageError) as caught:
        training.train_stage(cfg.replace(max_steps=1, resume=None), "pretraining", progress=False)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'checkpoints' / 'checkpoint-2'}: an unfinished training") and "\n" not in message
    assert "resume: auto" in message and "overwrite: true" in message
    assert sorted(p.name for p in (folder / "checkpoints").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    result = training.train_stage(cfg.replace(max_steps=1, resume=None, overwrite=True), "pretraining", progress=False)
    assert "starting the stage again" in capsys.readouterr().out
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["steps"] == 1 and manifest["resumed_from"] is None
    assert sorted(p.name for p in (folder / "checkpoints").glob("checkpoint-*")) == ["checkpoint-1"]  # this training's own


def test_a_cut_short_optimizer_state_falls_back_and_is_named(cfg, finished, outputs):
    folder = unfinished_run(finished, outputs)
    optimizer = folder / "checkpoints" / "checkpoint-2" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:-300])
    with pytest.warns(UserWarning, match=re.escape(f"{optimizer}: damaged or cut short") + ".*resuming from "
                                         "checkpoint-1 instead"):
        setup = training.setup_stage(cfg.replace(max_steps=3), "pretraining", progress=False)
    setup.release()
    assert setup.checkpoint.name == "checkpoint-1"
    with pytest.raises(folders.StageError, match=re.escape(f"{optimizer}: damaged or cut short")):
        training.setup_stage(cfg.replace(max_steps=3, resume=str(optimizer.parent)), "pretraining", progress=False)


def test_checkpoints_trained_on_other_data_are_not_resumed(cfg, finished, outputs, own_data):
    folder = unfinished_run(finished, outputs)
    trained = json.loads((folder / "training_data.json").read_text())["hash"]
    with pytest.raises(provenance.ProvenanceError) as caught:
        training.setup_stage(cfg.replace(max_steps=3, processed_dir=str(own_data.processed), max_seq_length=256),
                             "pretraining", progress=False)
    message = str(caught.value)
    assert message.startswith(f"{folder / 'training_data.json'}: the checkpoints beside it were trained on data {trained[:12]}")
    assert processed.data_hash(own_data.manifest)[:12] in message and "--seed 42" in message and "\n" not in message
    assert "start the stage again (resume: null, overwrite: true)" in message


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(cfg, finished, outputs):
    folder = unfinished_run(finished, outputs)
    state = folder / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    state.write_text(state.read_text()[:40])  # cut short, as by a full disk or a kill mid-save
    with pytest.warns(UserWarning, match=rf"{state}: damaged .* resuming from checkpoint-1 instead"):
        setup = training.setup_stage(cfg.replace(max_steps=3, resume="auto"), "pretraining", progress=False)
    assert setup.checkpoint.name == "checkpoint-1"
    result = training.run(setup)
    assert json.loads((result.folder / "manifest.json").read_text())["steps"] == 3


def test_a_checkpoint_of_the_other_stage_is_refused(cfg, finished, outputs):
    finished_copy(finished, outputs)
    result = training.train_stage(cfg.replace(max_steps=1, save_steps=1), "instruction", progress=False)
    other = result.folder / "checkpoints" / "checkpoint-1"
    with pytest.raises(folders.StageError, match=r"checkpoint-1: a checkpoint of stage 'instruction'.*not 'pretraining'"):
        training.train_stage(cfg.replace(max_steps=2, run_name="fresh", resume=str(other)), "pretraining",
                             progress=False)


def test_a_lora_size_mismatch_on_resume_is_one_line(cfg, finished, outputs):
    folder = unfinished_run(finished, outputs)
    with pytest.raises(lora.AdapterMismatch) as caught:
        training.train_stage(cfg.replace(max_steps=3, resume="auto", lora_r=8), "pretraining", progress=False)
    message = str(caught.value)
    assert "\n" not in message and "size mismatch" not in message
    assert f"{folder / 'checkpoints' / 'checkpoint-2'}" in message and "r = 16" in message and "r = 8" in message


def test_a_truncated_adapter_is_named(cfg, finished, outputs):
    adapter = finished_copy(finished, outputs) / "adapter"
    weights_file = adapter / "adapter_model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:-100])
    with pytest.raises(folders.StageError) as caught:
        training.train_stage(cfg.replace(max_steps=1), "instruction", progress=False)
    assert str(caught.value).startswith(f"{weights_file}: truncated") and "\n" not in str(caught.value)
    from lib.llm import chat

    with pytest.raises(ValueError, match=rf"{weights_file}: truncated"):  # and chat says the same
        chat.load_for_chat(str(adapter), cfg)


# --- two runs at once -----------------------------------------------------------------------------------

HOLD = """
import sys, time
from lib.files import locks
locks.acquire(sys.argv[1], "a test run")
print("held", flush=True)
time.sleep(60)
"""


def hold_lock(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow
def test_a_second_training_of_the_same_run_fails_at_once_saying_who_holds_it(cfg, outputs):
    holder = hold_lock(outputs / "safe" / ".lock")
    try:
        started = time.time()
        with pytest.raises(Exception) as caught:
            training.train_stage(cfg.replace(max_steps=1), "pretraining", progress=False)
        assert time.time() - started < 5
        message = str(caught.value)
        assert f"pid {holder.pid} on {os.uname().nodename} since " in message and "\n" not in message
        assert not (outputs / "safe" / "pretraining").exists(), "nothing was written"
    finally:
        holder.kill()
        holder.wait()
    result = training.train_stage(cfg.replace(max_steps=1), "pretraining", progress=False)  # a dead holder's
    assert (result.folder / "manifest.json").exists()                                      # lock is taken over
