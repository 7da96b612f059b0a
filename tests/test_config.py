import pytest

from lib.settings import config
from tests.conftest import ROOT


def test_defaults_are_the_seed_study_settings():
    cfg = config.load_config(ROOT / "config.yaml")
    assert cfg.model == "meta-llama/Llama-3.2-3B-Instruct"
    assert cfg.load_in_4bit is True
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) == (16, 32, 0.05)
    assert cfg.max_seq_length == 2048
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (2, 8)
    assert cfg.learning_rate == pytest.approx(2e-4)
    assert cfg.num_train_epochs == 3
    assert set(cfg.lora_target_modules) == set(config.SEVEN_PROJECTIONS)


def test_every_yaml_key_is_a_config_field_and_back():
    import yaml

    keys = set(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert keys == set(config.KEYS)


def test_overrides_apply_and_none_keeps_the_file_value():
    cfg = config.load_config(ROOT / "config.yaml", model="tiny", lora_r=None, max_seq_length="512")
    assert cfg.model == "tiny"
    assert cfg.lora_r == 16
    assert cfg.max_seq_length == 512


def test_unknown_key_in_file_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: tiny\nlora_rank: 8\n")
    with pytest.raises(config.ConfigError, match=r"unknown key 'lora_rank' \(did you mean 'lora_r'\?\)"):
        config.load_config(path)


def test_unknown_override_is_named():
    with pytest.raises(config.ConfigError, match="unknown key 'modle'"):
        config.load_config(ROOT / "config.yaml", modle="tiny")


@pytest.mark.parametrize("line, key", [("lora_r: sixteen", "lora_r"), ("load_in_4bit: maybe", "load_in_4bit"),
                                       ("use_unsloth: sometimes", "use_unsloth"), ("lora_dropout: 1.5", "lora_dropout"),
                                       ("val_documents: 3", "val_documents")])
def test_bad_values_name_the_key(tmp_path, line, key):
    path = tmp_path / "c.yaml"
    path.write_text(line + "\n")
    with pytest.raises(config.ConfigError, match=f"'{key}'"):
        config.load_config(path)


def test_yaml_exponent_without_dot_is_a_number(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("learning_rate: 2e-4\n")  # YAML 1.1 reads this as a string
    assert config.load_config(path).learning_rate == pytest.approx(2e-4)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load_config(bad)


@pytest.mark.parametrize("steps", [0, -2, -100])
def test_max_steps_below_one_is_refused_at_once(steps):
    """0 would train one step and save a "finished" stage; -1 alone means no limit."""
    with pytest.raises(config.ConfigError, match=r"'max_steps' must be -1 \(no limit\) or at least 1, got "
                                                 f"{steps}"):
        config.load_config(ROOT / "config.yaml", max_steps=steps)
    assert config.load_config(ROOT / "config.yaml", max_steps=-1).max_steps == -1
    assert config.load_config(ROOT / "config.yaml", max_steps=1).max_steps == 1
