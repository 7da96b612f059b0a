"""The notebooks as users get them: hygiene of the committed files, and real papermill runs."""

import json
import re
import types
import typing

import nbformat
import pytest

from lib.files import storage
from lib.runtime import runner
from lib.settings import config
from tests.conftest import FOUR_NOTEBOOKS, ROOT, SECRET, WANDB_SECRET

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_four_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == runner.NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_clean(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert tagged[0] <= 4, "the parameters cell is near the top"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "outputs stripped"
    assert "widgets" not in nb.get("metadata", {})
    assert "colab.setup(ROOT, started=SETUP_STARTED)" in "".join(code[0]["source"]), "the first code cell is the bootstrap"
    assert nb["cells"][0]["cell_type"] == "markdown"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_config_keys_and_never_secrets(path):
    params = runner.declared_parameters(path.stem)
    cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    assigned = re.findall(r"^(\w+)\s*=", "".join(cell["source"]), re.M)
    assert sorted(params) == sorted(assigned), "papermill must parse every line of the parameters cell"
    assert "config_file" in params
    for name, info in params.items():
        assert not runner.SECRET_NAME.search(name)
        if name != "config_file":
            assert name in config.KEYS, f"{name} is not a config key"
            assert info["default"] == "None", f"{name} should default to None (config.yaml decides)"


def another_value(key: str, current):
    """A valid value of a configuration key that differs from `current`."""
    hint = typing.get_type_hints(config.Config)[key]
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    for option in options:
        if typing.get_origin(option) is typing.Literal:
            return next(v for v in typing.get_args(option) if v != current)
        if option is bool:
            return not current if isinstance(current, bool) else True
        if option is int:
            return {"max_steps": 5, "authorship_words": (current or 150) - 10}.get(key, (current or 0) + 64)
        if option is float:
            return current / 2
        if typing.get_origin(option) is list:
            return ["q_proj"] if current != ["q_proj"] else ["v_proj"]
        if option is str:
            return {"run_name": "another-run", "model": "tiny", "hub_repo": "someone/study"}.get(key, f"{current}-changed")
    raise AssertionError(f"no other value for {key}")


def config_cell(path, **values):
    """Run a notebook's parameters cell, papermill-style injected values, and its configuration cell."""
    cells = json.loads(path.read_text())["cells"]
    index = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    namespace: dict = {}
    exec("".join(cells[index]["source"]), namespace)
    namespace.update(config_file=str(ROOT / "config.yaml"), **values)
    code = "".join(cells[index + 1]["source"])
    assert "cfg = config.from_parameters(globals())" in code, "one line collects the parameters"
    exec(code, namespace)
    return namespace["cfg"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_of_every_notebook_reaches_the_configuration(path):
    baseline = config_cell(path)
    for name in runner.declared_parameters(path.stem):
        if name == "config_file":
            continue
        value = another_value(name, getattr(baseline, name))
        changed = config_cell(path, **{name: value})
        assert getattr(changed, name) == value != getattr(baseline, name), name
        assert name in changed.given, f"{name} counts as set explicitly"


def test_runner_refuses_secrets_as_parameters(monkeypatch):
    with pytest.raises(ValueError, match="secrets are never notebook parameters"):
        runner.check_parameters({"hf_token": "x"})
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(ValueError, match="parameter 'model'"):
        runner.check_parameters({"model": SECRET})


def test_runner_refuses_unknown_parameters():
    with pytest.raises(ValueError, match="modle"):
        runner.run_notebooks({"modle": "tiny"}, ["01_data"])


def run_01(tmp_path, monkeypatch, **params):
    monkeypatch.setenv("P4_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("HF_TOKEN", SECRET)
    base = dict(model="tiny", max_seq_length=256, processed_dir=str(tmp_path / "processed"), run_name="nbtest")
    return runner.run_notebooks({**base, **params}, ["01_data"])


@pytest.mark.slow
def test_papermill_run_of_01_data(tmp_path, monkeypatch):
    out = run_01(tmp_path, monkeypatch)
    nb = nbformat.read(out / "01_data.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert re.search(r"Parsed 12 documents\n  - \[Medical Ethics\] narrative_self\.txt: \d+ chars", text)
    assert re.search(r"Pre-training: \d+ train, \d+ val samples", text)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the chunk histogram, once
    assert (out / "01_data.html").stat().st_size > 10_000
    manifest = storage.read_json(tmp_path / "processed" / "manifest.json")
    assert manifest["config"]["model"] == "tiny"
    for path in (tmp_path).rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="ignore"), f"token leaked into {path}"


@pytest.mark.slow
def test_a_failing_notebook_names_itself_and_the_cell(tmp_path, monkeypatch):
    with pytest.raises(runner.NotebookFailed,
                       match=r"01_data\.ipynb failed in cell \d+ \(execution count \d+\): CorpusError: .*nowhere"):
        run_01(tmp_path, monkeypatch, corpus=str(tmp_path / "nowhere.txt"))
    assert (tmp_path / "outputs" / "nbtest" / "notebooks" / "01_data.html").exists()


@pytest.mark.slow
def test_all_four_notebooks_run_in_order_like_make_demo(four_notebooks):
    out, run, tmp_path = four_notebooks.notebooks, four_notebooks.run, four_notebooks.root
    for name in runner.NOTEBOOKS:
        assert (out / f"{name}.ipynb").exists() and (out / f"{name}.html").exists()
    for stage in ("pretraining", "instruction"):
        manifest = storage.read_json(run / stage / "manifest.json")
        assert manifest["steps"] == FOUR_NOTEBOOKS["max_steps"]
        assert (run / stage / "adapter" / "adapter_config.json").exists()
        assert (run / stage / "comparison.html").exists() and (run / stage / "comparison.jsonl").exists()
        nb = nbformat.read(out / f"{'02_pretrain' if stage == 'pretraining' else '03_instruct'}.ipynb", 4)
        train_cell = next(c for c in nb.cells if c.cell_type == "code" and "stage.run(setup)" in c.source)
        assert [o for o in train_cell.outputs if "image/png" in o.get("data", {})], "the live loss curve"
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert any("peak" in str(o.get("data", {})) or "tokens_per_second" in str(o.get("data", {}))
                   for o in outputs), "the resources table"
    for stage in ("pretraining", "instruction"):   # the control author's stages: same code, his data, her steps
        his = storage.read_json(run / f"control_{stage}" / "manifest.json")
        assert his["author"] == "control" and his["matched_to"]["arm"] == stage
        assert his["steps"] == his["matched_to"]["steps"] == FOUR_NOTEBOOKS["max_steps"]
        assert his["data"]["processed_dir"].endswith("control") and his["data"]["corpus"].endswith(
            "control/complete_corpus.txt")
    nb = nbformat.read(out / "03_instruct.ipynb", 4)
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[-2].outputs[0]["data"], "the chat box"
    probe = run / "probe"
    for name in ("report.html", "report.json", "measures.csv", "claim1.png", "claim2.png", "claim3.png", "claim4.png"):
        assert (probe / name).exists(), name
    nb = nbformat.read(out / "04_probe_study.ipynb", 4)
    shown = str([c.outputs for c in nb.cells if c.cell_type == "code" and "questionnaire_files" in c.source])
    # DigiDan answers of at least digidan_min_new_tokens reach the cut: the questionnaire is built
    assert (probe / "questionnaire.html").exists() and (probe / "questionnaire_key.json").exists(), shown
    assert "send to respondents" in shown
    claims = [c for c in nb.cells if c.cell_type == "code" and "report.show_claim" in c.source]
    assert len(claims) == 4 and all(any("image/png" in o.get("data", {}) for o in c.outputs)
                                    or "no measure of this claim has a value to draw" in str(c.outputs)
                                    for c in claims), "a figure per claim, inline, or why there is none"
    assert list((run / "pretraining" / "wandb").glob("offline-run-*/*.wandb")), "W&B logged offline into the run"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data, f"token leaked into {path}"
            assert WANDB_SECRET.encode() not in data, f"W&B key leaked into {path}"
    html = (out / "03_instruct.html").read_text()
    assert "https://cdn" not in html and "unpkg.com" not in html and "chat box stands here" in html
