import json

import pytest

from lib.data import corpus, prepare
from lib.data.corpus import Document
from lib.files import storage
from tests.conftest import ROOT, make_cfg


def rows(folder, name):
    return storage.read_jsonl(folder / name)


def test_no_document_on_both_sides(cfg, tiny_tokenizer):
    manifest = prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    folder = storage.processed_dir(cfg)
    train, val = set(manifest["documents"]["train"]), set(manifest["documents"]["validation"])
    assert train and val and not train & val
    for stage in ("pretraining", "instruction"):
        tr = rows(folder, f"{stage}_train.jsonl")
        va = rows(folder, f"{stage}_val.jsonl")
        assert {r["document"] for r in tr} <= train and {r["document"] for r in va} <= val
        assert tr and va
    pairs = rows(folder, "instruction_train.jsonl")
    assert all(p["prompt"][-1]["role"] == "user" and p["completion"][0]["role"] == "assistant" for p in pairs)


def test_same_seed_gives_byte_identical_files_and_the_manifest_hashes_them(tmp_path, tiny_tokenizer):
    outs = []
    for name in ("a", "b"):
        cfg = make_cfg(tmp_path, processed_dir=str(tmp_path / name))
        prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
        outs.append(tmp_path / name)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == sorted(p.name for p in outs[1].iterdir())
    for name in files:
        if name != "manifest.json":  # it names its own folder in the configuration
            assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    manifest = json.loads((outs[0] / "manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["config"]["seed"] == 42
    for name, entry in manifest["files"].items():
        assert storage.sha256(outs[0] / name) == entry["sha256"]
        assert len(rows(outs[0], name)) == entry["rows"]


def test_another_seed_moves_the_held_out_documents():
    docs = [Document(f"d{i}.txt", "A" if i % 2 else "B", "x", "t") for i in range(20)]
    splits = {tuple(sorted(n for n, s in prepare.split_documents(docs, 0.2, seed, None).items() if s == "validation"))
              for seed in range(5)}
    assert len(splits) > 1
    held = [n for n, s in prepare.split_documents(docs, 0.2, 0, None).items() if s == "validation"]
    assert len(held) == 4 and {docs[int(n[1:-4])].category for n in held} == {"A", "B"}  # spread over categories


def test_split_edge_cases():
    two = [Document("a.txt", "A", "x", "t"), Document("b.txt", "A", "x", "t")]
    assert sorted(prepare.split_documents(two, 0.01, 1, None).values()) == ["train", "validation"]
    with pytest.raises(prepare.SplitError, match="at least 2"):
        prepare.split_documents(two[:1], 0.1, 1, None)
    assert prepare.split_documents(two, 0.5, 1, ["b.txt"]) == {"a.txt": "train", "b.txt": "validation"}
    with pytest.raises(prepare.SplitError, match="not in the corpus: c.txt"):
        prepare.split_documents(two, 0.5, 1, ["c.txt"])
    with pytest.raises(prepare.SplitError, match="every document"):
        prepare.split_documents(two, 0.5, 1, ["a.txt", "b.txt"])


def test_mode_pretraining_keeps_the_instruction_files(cfg, tiny_tokenizer):
    folder = storage.processed_dir(cfg)
    first = prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    before = (folder / "instruction_train.jsonl").read_bytes()
    second = prepare.run(cfg.replace(chunk_tokens=128), mode="pretraining", tokenizer=tiny_tokenizer, verbose=False)
    assert (folder / "instruction_train.jsonl").read_bytes() == before
    assert second["files"]["instruction_train.jsonl"] == first["files"]["instruction_train.jsonl"]
    assert second["counts"]["pretraining"]["train"] > first["counts"]["pretraining"]["train"]


def test_an_interrupted_write_leaves_the_previous_data_intact(cfg, tiny_tokenizer, monkeypatch):
    folder = storage.processed_dir(cfg)
    prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = storage.write_jsonl
    calls = []

    def failing(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(path, data)

    monkeypatch.setattr(storage, "write_jsonl", failing)
    with pytest.raises(OSError, match="disk full"):
        prepare.run(cfg.replace(seed=7), tokenizer=tiny_tokenizer, verbose=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no staging left behind


def test_document_table_has_tokens_and_cleaning(cfg, tiny_tokenizer):
    prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    table = rows(storage.processed_dir(cfg), "documents.jsonl")
    assert len(table) == len(corpus.from_config(cfg, verbose=False))
    assert all(r["tokens"] > 0 and r["chunks"] >= 1 and r["side"] in ("train", "validation") for r in table)
    assert any("footnote blocks" in r["cleaning"] for r in table)


def test_prints_the_seed_study_counts(cfg, tiny_tokenizer, capsys):
    manifest = prepare.run(cfg, tokenizer=tiny_tokenizer)
    out = capsys.readouterr().out
    c = manifest["counts"]
    assert f"Pre-training: {c['pretraining']['train']} train, {c['pretraining']['validation']} val samples" in out
    assert f"Instruction: {c['instruction']['train']} train, {c['instruction']['validation']} val samples" in out


def test_nul_bytes_never_reach_the_training_files_and_are_reported(tmp_path, tiny_tokenizer):
    """A folder of two files with stray NUL bytes (a bad export): removed, counted per document."""
    root = tmp_path / "corpus"
    root.mkdir()
    prose = "The surrogate reads the whole of a life, not one afternoon of it. " * 12
    for name in ("one.txt", "two.txt"):
        (root / name).write_text(prose[:300] + "\x00" * 200 + prose[300:] + "\n")
    cfg = make_cfg(tmp_path, corpus=str(root), qa_file="null", val_fraction=0.5)
    prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    folder = storage.processed_dir(cfg)
    for name in ("pretraining_train.jsonl", "pretraining_val.jsonl", "instruction_train.jsonl",
                 "instruction_val.jsonl"):
        raw = (folder / name).read_text()
        assert "\\u0000" not in raw and "\x00" not in raw, name
    table = rows(folder, "documents.jsonl")
    assert [r["cleaning"].split(", ")[0] for r in table] == ["control characters: 200"] * 2


def test_prepare_prints_the_cleaning_table_the_notebook_shows(cfg, tiny_tokenizer, capsys):
    from lib.data import cleaning

    prepare.run(cfg, tokenizer=tiny_tokenizer)
    out = capsys.readouterr().out
    _, reports = cleaning.clean_corpus(corpus.from_config(cfg, verbose=False), cfg.unwrap_lines)
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250):
        shown = cleaning.table(reports).to_string()
    assert shown in out and "chars_before" in shown and "footnote_blocks" in shown
    assert all(r["document"] in shown for r in reports)
    notebook = json.loads((ROOT / "notebooks" / "01_data.ipynb").read_text())
    assert any("".join(c["source"]).endswith("cleaning.table(reports)") for c in notebook["cells"]), \
        "01_data shows the same table"
