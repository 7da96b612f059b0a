"""What Colab users bring along: TensorBoard and W&B through `report_to`, and a push to a private hub repository."""

import pytest

from lib.data import prepare
from lib.settings import config
from lib.train import export, publish, stage, tracking
from tests.conftest import make_cfg

WANDB_SECRET = "wandbTRACKINGsecretDoNotLeak0123456789ab"
HF_SECRET = "hf_TRACKINGsecretDoNotLeak0123456789"


def test_report_to_is_a_setting_with_three_values(tmp_path):
    assert make_cfg(tmp_path).report_to == "none"
    with pytest.raises(config.ConfigError, match="report_to"):
        make_cfg(tmp_path, report_to="mlflow")
    with pytest.raises(config.ConfigError, match="hub_repo"):
        make_cfg(tmp_path, hub_repo="no-slash")


def test_wandb_goes_offline_without_a_key_or_a_network(tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path, report_to="wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    env = tracking.environ(cfg, tmp_path / "stage", "pretraining")
    assert env["WANDB_MODE"] == "offline" and env["WANDB_DIR"] == str(tmp_path / "stage")
    monkeypatch.setenv("WANDB_API_KEY", WANDB_SECRET)
    monkeypatch.setattr(tracking, "reachable", lambda address, timeout=3.0: False)
    env = tracking.environ(cfg, tmp_path / "stage", "pretraining")
    assert env["WANDB_MODE"] == "offline" and "WANDB_API_KEY" not in env
    monkeypatch.setattr(tracking, "reachable", lambda address, timeout=3.0: True)
    env = tracking.environ(cfg, tmp_path / "stage", "pretraining")
    assert "WANDB_MODE" not in env and env["WANDB_API_KEY"] == WANDB_SECRET, "online with a key and a network"


def test_the_wandb_key_is_never_a_notebook_parameter(monkeypatch):
    from lib.runtime import runner

    with pytest.raises(ValueError, match="secrets are never notebook parameters"):
        runner.check_parameters({"wandb_api_key": "x"})
    monkeypatch.setenv("WANDB_API_KEY", WANDB_SECRET)
    with pytest.raises(ValueError, match="parameter 'run_name'"):
        runner.check_parameters({"report_to": "wandb", "run_name": WANDB_SECRET})


def test_tensorboard_logs_go_to_the_stage_folder(tmp_path):
    env = tracking.environ(make_cfg(tmp_path, report_to="tensorboard"), tmp_path / "stage", "pretraining")
    assert env == {"TENSORBOARD_LOGGING_DIR": str(tmp_path / "stage" / "tensorboard")}
    assert tracking.environ(make_cfg(tmp_path), tmp_path / "stage", "pretraining") == {}


@pytest.mark.slow
def test_training_reports_to_tensorboard_and_to_wandb_offline_without_leaking_the_key(tmp_path, monkeypatch, outputs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_API_KEY", WANDB_SECRET)
    monkeypatch.setenv("HF_TOKEN", HF_SECRET)
    monkeypatch.setattr(tracking, "reachable", lambda address, timeout=3.0: False)  # no network, as here anyway
    base = make_cfg(tmp_path, max_steps=3, logging_steps=1, eval_steps=2, per_device_train_batch_size=2,
                    gradient_accumulation_steps=1, max_seq_length=128)
    prepare.run(base, mode="pretraining", verbose=False)
    board = stage.train_stage(base.replace(report_to="tensorboard", run_name="tb"), "pretraining", progress=False)
    events = list((board.folder / "tensorboard").glob("events.out.tfevents.*"))
    assert events, "TensorBoard event file in the stage folder"
    scalars = EventAccumulator(str(events[0].parent)).Reload().Tags()["scalars"]
    assert "train/loss" in scalars and "eval/loss" in scalars
    wandb_run = stage.train_stage(base.replace(report_to="wandb", run_name="wb"), "pretraining", progress=False)
    offline = list((wandb_run.folder / "wandb").glob("offline-run-*"))
    assert offline and list(offline[0].glob("*.wandb")), "an offline W&B run, ready for `wandb sync`"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert WANDB_SECRET.encode() not in data, f"W&B key leaked into {path}"
            assert HF_SECRET.encode() not in data, f"HF token leaked into {path}"


class RecordingHub:
    """Stands in for huggingface_hub.HfApi: records every call, answers like the hub."""

    def __init__(self, private: bool = True):
        self.calls, self.private = [], private

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def repo_info(self, repo_id, **kwargs):
        self.calls.append(("repo_info", repo_id, kwargs))
        return type("Info", (), {"private": self.private})()

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs["repo_id"], kwargs))


def test_export_pushes_the_adapter_to_a_private_repository(tmp_path):
    cfg = make_cfg(tmp_path, hub_repo="someone/p4-study")
    stage_folder = tmp_path / "outputs" / "run" / "instruction"
    (stage_folder / "adapter").mkdir(parents=True)
    hub = RecordingHub()
    done = export.export_stage(cfg, stage_folder, hub_api=hub)
    assert hub.calls[0] == ("create_repo", "someone/p4-study", {"repo_type": "model", "private": True, "exist_ok": True})
    upload = next(kwargs for name, _, kwargs in hub.calls if name == "upload_folder")
    assert upload["folder_path"] == str(stage_folder / "adapter")
    assert upload["path_in_repo"] == "instruction/adapter"
    assert done["hub adapter"] == "https://huggingface.co/someone/p4-study/tree/main/instruction/adapter"
    assert len([c for c in hub.calls if c[0] == "upload_folder"]) == 1, "no merged model was exported: one upload"


def test_a_public_repository_is_refused(tmp_path):
    cfg = make_cfg(tmp_path, hub_repo="someone/public-one")
    hub = RecordingHub(private=False)
    with pytest.raises(publish.PublishError, match="is public"):
        publish.push_stage(cfg, tmp_path, {"adapter": "x"}, hub)
    assert not [c for c in hub.calls if c[0] == "upload_folder"], "nothing uploaded to a public repository"


def test_a_push_without_a_token_says_what_to_do(monkeypatch):
    monkeypatch.setattr(publish.colab, "hf_token", lambda: None)
    with pytest.raises(publish.PublishError, match="HF_TOKEN"):
        publish.hub_api()
