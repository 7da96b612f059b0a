"""The command line as a new user meets it: one spelling per flag, no guessing, one-line errors and warnings,
null where a setting can be empty, and no secret echoed back."""

import json
import socket
import time
import warnings

import pytest

from lib.__main__ import main
from lib.llm import models
from lib.settings import config
from tests.conftest import ROOT, SAMPLE

TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on its own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# --- null ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["null", "None", "~", ""])
def test_null_can_be_given_for_any_setting_that_may_be_empty(spelling):
    cfg = config.load_config(ROOT / "config.yaml", qa_file=spelling, chunk_tokens=spelling, system_prompt=spelling)
    assert (cfg.qa_file, cfg.chunk_tokens, cfg.system_prompt) == (None, None, None)
    assert {"qa_file", "chunk_tokens"} <= cfg.given, "an explicit null is a choice, not a default"
    with pytest.raises(config.ConfigError, match="'run_name' cannot be null"):
        config.load_config(ROOT / "config.yaml", run_name="null")  # a setting that cannot be empty stays so


def test_qa_file_null_on_the_command_line_builds_no_researcher_pairs(tmp_path, capsys):
    code, out, err = run_cli(capsys, "prepare", "--model", "tiny", "--max_seq_length", "256", "--qa_file", "null",
                             "--processed_dir", str(tmp_path / "p"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert "researcher" not in manifest["pairs_by_source"] and manifest["config"]["qa_file"] is None


# --- flags ------------------------------------------------------------------------------------------------

def test_a_mistyped_flag_gets_did_you_mean(capsys):
    code, _, err = run_cli(capsys, "prepare", "--lora_rank", "8")
    assert code == 2
    assert err.strip().splitlines() == ["error: unknown flag --lora_rank (did you mean --lora_r?)"]


def test_dashed_spelling_points_to_the_one_name(capsys):
    code, _, err = run_cli(capsys, "train", "--stage", "pretraining", "--max-seq-length", "64")
    assert code == 2 and "did you mean --max_seq_length?" in err


def test_abbreviations_are_not_guessed(capsys, tmp_path):
    code, _, err = run_cli(capsys, "prepare", "--chunk-token", "64", "--corpus", str(tmp_path / "absent"))
    assert code == 2
    assert "unknown flag --chunk-token (did you mean --chunk_tokens?)" in err, err


def test_help_lists_each_flag_once(capsys):
    code, out, _ = run_cli(capsys, "prepare", "--help")
    assert code == 0
    assert out.count("--chunk_tokens") == 1 and "--chunk-tokens" not in out
    assert out.count("--max_seq_length") == 1 and "--dry-run" in out


def test_a_token_given_as_a_flag_is_refused_without_echoing_it(capsys):
    code, out, err = run_cli(capsys, "prepare", "--hf_token", TOKEN)
    assert code == 2 and TOKEN not in out + err
    assert "HF_TOKEN" in err and len(err.strip().splitlines()) == 1


def test_a_token_as_the_value_of_an_ordinary_setting_is_refused(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(config.ConfigError, match="'run_name' looks like an access token") as caught:
        config.load_config(ROOT / "config.yaml", run_name=TOKEN)
    assert TOKEN not in str(caught.value)
    code, out, err = run_cli(capsys, "prepare", "--model", "tiny", "--processed_dir", str(tmp_path / "p"),
                             "--corpus", TOKEN)
    assert code == 2 and TOKEN not in out + err and not (tmp_path / "p").exists()


def test_warnings_print_as_one_line_and_the_process_is_left_as_it_was(capsys, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("=== DOCUMENT: [A] a.txt ===\nSome text here.\n=== DOCUMENT: [A] b.txt ===\n\n"
                      "=== DOCUMENT: [A] c.txt ===\nMore text.\n")
    before = warnings.showwarning
    code, out, err = run_cli(capsys, "prepare", "--dry-run", "--corpus", str(corpus))
    assert code == 0, err
    lines = [line for line in err.splitlines() if "b.txt" in line]
    assert lines and lines[0].startswith("warning: ") and "empty document" in lines[0]
    assert "warnings.warn" not in err and ".py:" not in err, "no Python source line under a warning"
    assert warnings.showwarning is before


# --- values that cannot work together -----------------------------------------------------------------

def test_chunks_longer_than_the_window_are_refused_at_once():
    with pytest.raises(config.ConfigError, match=r"'chunk_tokens' must be at most max_seq_length \(2048\)"):
        config.load_config(ROOT / "config.yaml", chunk_tokens=4096)
    assert config.load_config(ROOT / "config.yaml", chunk_tokens=4096, max_seq_length=4096).chunk_tokens == 4096


def test_one_document_advice_fits_a_pattern_that_matched_nothing(tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text("ON NOISE\n\n" + "A sentence of prose. " * 40 + "\n")
    code, _, err = run_cli(capsys, "prepare", "--model", "tiny", "--corpus", str(book), "--split_pattern",
                           "^CHAPTER [IVX]+$", "--processed_dir", str(tmp_path / "p"))
    assert code == 2
    assert "split_pattern '^CHAPTER [IVX]+$' matched no heading" in err and "--dry-run" in err
    assert "give split_pattern" not in err


# --- offline --------------------------------------------------------------------------------------------

def test_offline_prepare_fails_in_seconds_with_one_line(capsys, tmp_path, monkeypatch):
    """A resolver that hangs (no network, a dead DNS server) must not hold the data stage for a minute."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    real = socket.getaddrinfo

    def hanging(host, *args, **kwargs):
        if "huggingface" in str(host):
            time.sleep(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.time()
    code, _, err = run_cli(capsys, "prepare", "--model", "meta-llama/Llama-3.2-3B-Instruct", "--processed_dir",
                           str(tmp_path / "p"))
    assert time.time() - started < 6
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot reach the Hugging Face hub" in err and not (tmp_path / "p").exists()
    assert models.hub_reachable(timeout=0.5) is False


def test_null_reaches_a_notebook_as_null_not_as_keep_the_default():
    from lib.__main__ import notebook_parameters
    from tests.test_notebooks import NOTEBOOKS, config_cell

    params = notebook_parameters({"qa_file": "null", "max_seq_length": "256"})
    assert params == {"qa_file": "null", "max_seq_length": 256}
    cfg = config_cell(next(p for p in NOTEBOOKS if p.stem == "01_data"), **params)
    assert cfg.qa_file is None and cfg.max_seq_length == 256


# --- the data stage's bad input, each in one line -------------------------------------------------------

def test_max_steps_below_one_is_refused_before_anything_runs(capsys, tmp_path):
    code, _, err = run_cli(capsys, "prepare", "--model", "tiny", "--max_steps", "0", "--processed_dir",
                           str(tmp_path / "p"))
    assert code == 2 and not (tmp_path / "p").exists()
    assert err.strip().splitlines() == ["error: override: 'max_steps' must be -1 (no limit) or at least 1, got 0"]


def test_prepare_prints_the_cleaning_table(capsys, tmp_path):
    code, out, err = run_cli(capsys, "prepare", "--model", "tiny", "--max_seq_length", "256", "--qa_file", "null",
                             "--processed_dir", str(tmp_path / "p"))
    assert code == 0, err
    header = next(line for line in out.splitlines() if "chars_before" in line)
    assert header.split()[:3] == ["category", "chars_before", "chars_after"] and "footnote_blocks" in header
    assert any(line.startswith("narrative_self.txt ") for line in out.splitlines())


def test_a_non_utf8_file_name_and_a_lone_surrogate_are_one_line_each(capsys, tmp_path):
    import os

    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_text("The first essay. " * 30)
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "w") as fh:
        fh.write("The second essay. " * 30)
    code, _, err = run_cli(capsys, "prepare", "--model", "tiny", "--corpus", str(root), "--qa_file", "null",
                           "--processed_dir", str(tmp_path / "p"))
    assert code == 2 and err.strip().splitlines() == [
        f"error: {root}/caf\\xe9.txt: the file name is not valid UTF-8 (it becomes the document's name); rename the "
        "file"]
    os.rename(os.path.join(os.fsencode(root), b"caf\xe9.txt"), root / "b.txt")
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "Why?", "answer": "Because.", "document": "a.txt"}\n'
                  '{"question": "And \\udc00?", "answer": "Because.", "document": "b.txt"}\n')
    code, _, err = run_cli(capsys, "prepare", "--model", "tiny", "--corpus", str(root), "--qa_file", str(qa),
                           "--processed_dir", str(tmp_path / "p"), "--min_held_out_documents", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {qa}: line 2: the 'question' holds a lone surrogate (\\udc00")
