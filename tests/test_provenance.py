"""One run, one truth: every stage and the study know the data they were made from, and refuse, in one line,
data that is not it; a run with nothing trained is not studied by accident; `lib run` checks a batch before it
changes anything; your corpus is the one named everywhere; chat and the study name a damaged file."""

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from transformers import TrainerControl, TrainerState

from lib.__main__ import main
from lib.data import processed
from lib.files import storage
from lib.llm import chat, models
from lib.settings import config, sample
from lib.study import drafting, report
from lib.study import study as study_mod
from lib.train import callbacks, folders, provenance, settings
from lib.train import stage as training
from tests.conftest import ROOT, make_cfg

SAMPLE_CORPUS = "data/sample/complete_corpus.txt"


def copy_run(tiny_run, outputs: Path, name: str = "tiny-run", stages=("pretraining", "instruction")) -> Path:
    for stage in stages:
        shutil.copytree(tiny_run.root / "outputs" / "tiny-run" / stage, outputs / name / stage)
    return outputs / name


def copy_data(tiny_run, where: Path) -> Path:
    return Path(shutil.copytree(tiny_run.root / "processed", where))


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def held_out_trained_on(tiny_run, own_data) -> list[str]:
    trained = json.loads((tiny_run.stage1.folder / "manifest.json").read_text())["data"]["documents"]["train"]
    return sorted(set(own_data.manifest["documents"]["validation"]) & set(trained))


# --- recorded and verified -------------------------------------------------------------------------------

def test_every_stage_records_the_data_it_was_trained_on(tiny_run):
    data = processed.read_manifest_at(tiny_run.root / "processed")
    for result in (tiny_run.stage1, tiny_run.stage2):
        recorded = json.loads((result.folder / "manifest.json").read_text())["data"]
        assert recorded["hash"] == processed.data_hash(data)
        assert recorded["documents"] == data["documents"] and recorded["documents"]["validation"]
        assert recorded["files"] == {name: entry["sha256"] for name, entry in data["files"].items()}
        assert recorded["corpus"] == SAMPLE_CORPUS and recorded["settings"]["seed"] == 42
        started = json.loads((result.folder / provenance.STARTED).read_text())
        assert started["hash"] == recorded["hash"]


def test_a_data_file_cut_short_is_refused_naming_it(tiny_run, tmp_path, outputs):
    data = copy_data(tiny_run, tmp_path / "processed")
    train = data / "pretraining_train.jsonl"
    lines = train.read_text().splitlines(keepends=True)
    train.write_text("".join(lines[: len(lines) // 2]))  # cut at a line end: every row still reads
    with pytest.raises(processed.DataError) as caught:
        processed.load_split_at(data, "pretraining")
    message = str(caught.value)
    assert message.startswith(f"{train}: changed since 01_data wrote it (sha256 ") and "\n" not in message
    assert "run 01_data again" in message
    with pytest.raises(processed.DataError, match=str(train)):  # training refuses it before loading a model
        training.setup_stage(tiny_run.cfg.replace(processed_dir=str(data), run_name="cut"), "pretraining",
                             progress=False)
    assert not (outputs / "cut" / "pretraining").exists()


# --- data that is not what the earlier stages were trained on -----------------------------------------

def test_stage2_refuses_data_prepared_again_with_another_seed(tiny_run, own_data, outputs):
    run = copy_run(tiny_run, outputs, "r2", stages=("pretraining",))
    assert held_out_trained_on(tiny_run, own_data), "seed 7 holds out a document seed 42 trained on"
    cfg = tiny_run.cfg.replace(run_name="r2", processed_dir=str(own_data.processed))
    with pytest.raises(provenance.ProvenanceError) as caught:
        training.train_stage(cfg, "instruction", progress=False)
    message = str(caught.value)
    trained = processed.data_hash(processed.read_manifest_at(tiny_run.root / "processed"))
    assert message.startswith(f"{run / 'pretraining' / 'manifest.json'}: stage 1 was trained on data {trained[:12]}, "
                              f"but {own_data.processed} now holds {processed.data_hash(own_data.manifest)[:12]}")
    assert "held-out document" in message and held_out_trained_on(tiny_run, own_data)[0] in message
    assert f"python -m lib prepare --corpus {SAMPLE_CORPUS}" in message and "--seed 42" in message
    assert message.endswith("or start a new run_name") and "\n" not in message
    assert not (run / "instruction").exists(), "nothing was written"


def test_the_study_refuses_held_out_documents_that_were_trained_on(tiny_run, own_data, outputs):
    copy_run(tiny_run, outputs)
    cfg, data = study_mod.checked_run(tiny_run.cfg)  # the data the run was trained on: accepted, and recorded
    assert data["stages"] == {"pretraining": data["hash"], "instruction": data["hash"]}
    assert data["documents"]["validation"] == processed.read_manifest(cfg)["documents"]["validation"]
    with pytest.raises(provenance.ProvenanceError) as caught:
        study_mod.checked_run(tiny_run.cfg.replace(processed_dir=str(own_data.processed)))
    message = str(caught.value)
    assert message.startswith(f"{outputs / 'tiny-run' / 'pretraining' / 'manifest.json'}: stage 1 was trained on data "
                              f"{data['hash'][:12]}")
    assert processed.data_hash(own_data.manifest)[:12] in message and "\n" not in message
    assert "held-out document" in message and held_out_trained_on(tiny_run, own_data)[0] in message


def test_a_study_of_a_run_with_no_finished_stage_is_one_line(tiny_run, outputs):
    with pytest.raises(provenance.ProvenanceError) as caught:
        study_mod.checked_run(tiny_run.cfg.replace(run_name="fresh4"))
    message = str(caught.value)
    assert message.startswith(f"{outputs / 'fresh4'}: run 'fresh4' has no finished stage") and "\n" not in message
    assert "study_base_only: true" in message
    assert not (outputs / "fresh4").exists()
    _, data = study_mod.checked_run(tiny_run.cfg.replace(run_name="fresh4", study_base_only=True))
    assert data["stages"] == {}  # the base model alone, when asked for


# --- lib run checks the batch first ---------------------------------------------------------------------

def cli_run(capsys, *args) -> tuple[int, str]:
    code = main(["run", "--model", "tiny", *args])
    return code, one_line(capsys.readouterr().err)


def test_lib_run_on_a_finished_run_changes_nothing(tiny_run, own_data, tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("P4_OUTPUTS", str(outputs))
    run = copy_run(tiny_run, outputs)
    data = copy_data(tiny_run, tmp_path / "processed")
    before = snapshot(data)
    code, said = cli_run(capsys, "--run_name", "tiny-run", "--processed_dir", str(data), "--max_seq_length", "256")
    assert code == 2 and said.startswith(f"error: {run / 'pretraining'}: stage 'pretraining' of run 'tiny-run' is "
                                         "already finished; nothing was run or changed")
    for advice in ("--overwrite true", "another --run_name", "--notebooks 04_probe_study"):
        assert advice in said
    code, said = cli_run(capsys, "--notebooks", "01_data", "--run_name", "tiny-run", "--processed_dir", str(data))
    assert code == 2 and "01_data would replace the data that the finished pretraining, instruction" in said
    assert snapshot(data) == before and not (run / "notebooks").exists(), "no data, notebook or HTML copy written"
    code, said = cli_run(capsys, "--notebooks", "04_probe_study", "--run_name", "fresh4", "--processed_dir", str(data))
    assert code == 2 and "run 'fresh4' has no finished stage" in said and not (outputs / "fresh4").exists()
    code, said = cli_run(capsys, "--notebooks", "04_probe_study", "--run_name", "tiny-run", "--processed_dir",
                         str(own_data.processed))
    assert code == 2 and "stage 1 was trained on data" in said and "start a new run_name" in said
    code, said = cli_run(capsys, "--notebooks", "03_instruct", "--run_name", "r3", "--processed_dir", str(data))
    assert code == 2 and "has not finished; add 02_pretrain to --notebooks, or set --init_from base" in said


# --- your corpus everywhere ---------------------------------------------------------------------------------

def test_the_corpus_in_force_is_the_one_the_data_was_prepared_from(own_data, tmp_path):
    cfg = make_cfg(tmp_path, processed_dir=str(own_data.processed))  # corpus: the sample's path, as config.yaml says
    assert processed.corpus_in_force(cfg) == str(own_data.corpus) == processed.in_force(cfg).corpus
    with pytest.warns(UserWarning, match=rf"corpus: elsewhere\.txt was given, but .* prepared from {own_data.corpus}"):
        assert processed.corpus_in_force(cfg.replace(corpus="elsewhere.txt")) == str(own_data.corpus)
    assert sample.in_use(processed.in_force(cfg), "compare_prompts") and not sample.in_use(cfg, "compare_prompts")
    assert processed.corpus_in_force(make_cfg(tmp_path, processed_dir=str(tmp_path / "none"))) == SAMPLE_CORPUS
    folder = drafting.draft(cfg, tmp_path / "my_probes")
    assert json.loads((folder / "PROBES.json").read_text())["corpus"] == str(own_data.corpus)
    assert str(own_data.corpus) in (folder / "README.md").read_text()
    record = processed.record(own_data.processed, own_data.manifest)
    made = report.provenance(SimpleNamespace(cfg=cfg, data=record, model_arms=["base"]))
    assert made["corpus"] == str(own_data.corpus) and made["data hash"] == processed.data_hash(own_data.manifest)
    assert made["held-out documents"] == own_data.manifest["documents"]["validation"]


def test_chat_takes_the_corpus_a_stage_was_trained_on(tiny_run):
    with tiny_run.outputs():
        cfg = models.trained_settings(tiny_run.cfg.replace(corpus="somewhere/else.txt"), tiny_run.stage2.folder)
    assert cfg.corpus == SAMPLE_CORPUS and not sample.in_use(cfg, "compare_prompts")


@pytest.mark.parametrize("text, plain, named", [
    ("voice, not what she would say next", "voice, not what the author would say next",
     "voice, not what Ann Lee would say next"),
    ("1 = her own rate; < 1 = hedges less than she does", "1 = the author's own rate; < 1 = hedges less than the "
     "author does", "1 = Ann Lee's own rate; < 1 = hedges less than Ann Lee does"),
    ("it cannot say an answer sounds like her rather than like anyone else", "it cannot say an answer sounds like "
     "the author rather than like anyone else", "it cannot say an answer sounds like Ann Lee rather than like anyone else"),
    ("Her essays, not hers alone (learning her)", "The author's essays, not the author's alone (learning the author)",
     "Ann Lee's essays, not Ann Lee's alone (learning Ann Lee)"),
    ("the author's held-out documents; the authorship measure; other authors", "the author's held-out documents; the "
     "authorship measure; other authors", "Ann Lee's held-out documents; the authorship measure; other authors"),
    ("Where, there, heroes, hermits and Sheffield", "Where, there, heroes, hermits and Sheffield",
     "Where, there, heroes, hermits and Sheffield"),
])
def test_the_report_speaks_of_the_author_or_the_name_set(text, plain, named):
    assert report.in_words(text) == plain
    assert report.in_words(text, SimpleNamespace(author_name="Ann Lee")) == named


def test_the_checklist_uses_the_name_set():
    rows = report.checklist(pd.DataFrame(), pd.DataFrame(), SimpleNamespace(author_name="Ann <Lee>"))
    assert any("what Ann <Lee> would say next" in r["cannot show"] for r in rows)
    plain = report.checklist(pd.DataFrame(), pd.DataFrame())
    assert not any(re.search(r"\b(she|her|hers)\b", r["cannot show"]) for r in plain)
    assert config.load_config(ROOT / "config.yaml").author_name is None


# --- nothing lost in training -------------------------------------------------------------------------------

def test_a_short_stage_keeps_checkpoints_at_each_quarter(tiny_run):
    # 8 steps against save_steps 50: the quarters (2, 4, 6, 8) were saved, the newest KEEP_CHECKPOINTS kept
    for result in (tiny_run.stage1, tiny_run.stage2):
        kept = [p.name for p in reversed(folders.newest_first(result.folder / "checkpoints"))]
        assert tiny_run.cfg.save_steps > 8 and kept == ["checkpoint-4", "checkpoint-6", "checkpoint-8"]


def test_a_checkpoint_every_few_minutes_whatever_the_steps(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(callbacks.time, "time", lambda: clock[0])
    saver = callbacks.SaveOften(minutes=10, per_stage=settings.CHECKPOINTS_PER_STAGE)
    state, args = TrainerState(max_steps=1000), SimpleNamespace(world_size=1, device="cpu")
    saver.on_train_begin(args, state, TrainerControl())

    def step(n: int, minutes: float) -> bool:
        clock[0] += minutes * 60
        state.global_step, control = n, TrainerControl()
        saver.on_step_end(args, state, control)
        if control.should_save:
            saver.on_save(args, state, control)
        return control.should_save

    assert [step(1, 4), step(2, 5.5), step(3, 0.6), step(4, 3), step(5, 6.9), step(6, 0.2)] == \
        [False, False, True, False, False, True]
    assert step(250, 0.1), "a quarter of the stage"
    quiet = callbacks.SaveOften(minutes=None)
    quiet.on_train_begin(args, state, TrainerControl())
    state.global_step, control = 7, TrainerControl()
    clock[0] += 3600
    quiet.on_step_end(args, state, control)
    assert not control.should_save, "save_minutes: null saves by steps only"


# --- errors that name their file ---------------------------------------------------------------------------

def test_a_stage_manifest_edited_by_hand_is_one_line_in_chat_and_the_study(tiny_run, tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("P4_OUTPUTS", str(outputs))
    run = copy_run(tiny_run, outputs)
    manifest = run / "instruction" / "manifest.json"
    edited = json.loads(manifest.read_text())
    del edited["config"]
    manifest.write_text(json.dumps(edited))
    code = main(["chat", "--model", "tiny-run", "--prompt", "Hello?", "--processed_dir", str(tiny_run.root / "processed")])
    said = one_line(capsys.readouterr().err)
    assert code == 2 and said.startswith(f"error: {manifest}: has no 'config.model' (edited by hand?)")
    with pytest.raises(storage.RecordError, match=rf"^{manifest}: has no 'config.model'"):
        study_mod.checked_run(tiny_run.cfg)
    manifest.write_text("{not json")
    with pytest.raises(storage.RecordError, match=rf"^{manifest}: not valid JSON"):
        chat.load_for_chat("tiny-run", tiny_run.cfg)


@pytest.mark.parametrize("prompt", ["", "   "])
def test_an_empty_prompt_is_an_error_not_a_conversation(prompt, capsys):
    assert main(["chat", "--model", "no-such-run", "--prompt", prompt]) == 2
    assert one_line(capsys.readouterr().err) == "error: --prompt is empty: give the text to answer, or --interactive to talk"


def test_control_characters_in_chat_are_written_out(capsys):
    chat.show("clear\x1b[2J?", "a\tb\nc\rd\x07e\u202eevil\x00")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out and "\u202e" not in out and "\x00" not in out
    assert "clear\\x1b[2J?" in out and "a\tb\nc\\rd\\x07e\\u202eevil\\x00" in out
