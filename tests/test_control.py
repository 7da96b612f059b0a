"""The control author's plumbing, fast: which control corpus is used, how many documents are held out, and how
his stage is matched to hers. (Both authors trained through the notebooks: tests/test_notebooks.py; claim 1 on a
run with a control: tests/test_claim1.py.)"""

import warnings

import pytest

from lib.files import storage
from lib.settings import sample
from lib.data import prepare, processed
from lib.train import matching
from lib.train.folders import StageError
from tests.conftest import make_cfg


def used(cfg) -> tuple[str | None, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chosen = sample.control_corpus(cfg)
    return chosen, [str(w.message) for w in caught]


def test_the_sample_control_serves_the_sample_only_unless_named(tmp_path):
    cfg = make_cfg(tmp_path)
    assert used(cfg) == (sample.CONTROL["control_corpus"], [])
    chosen, said = used(cfg.replace(corpus=str(tmp_path / "mine.txt")))
    assert chosen is None and len(said) == 1 and "not used" in said[0] and "control_corpus" in said[0]
    named = make_cfg(tmp_path, corpus=str(tmp_path / "mine.txt"), control_corpus=sample.CONTROL["control_corpus"])
    assert used(named) == (sample.CONTROL["control_corpus"], [])
    assert used(cfg.replace(control_corpus=None)) == (None, [])


def test_the_sample_controls_pairs_never_go_with_another_control(tmp_path):
    cfg = make_cfg(tmp_path, corpus=str(tmp_path / "mine.txt"), control_corpus=str(tmp_path / "colleague.txt"))
    with pytest.warns(UserWarning, match="control_qa_file: .* not used"):
        his = processed.control_config(cfg)
    assert his.qa_file is None and his.corpus == str(tmp_path / "colleague.txt")
    assert his.processed_dir.endswith("processed/control") and his.val_documents == []
    assert processed.control_config(make_cfg(tmp_path)).qa_file == sample.CONTROL["control_qa_file"]


@pytest.mark.parametrize("documents, fraction, held", [(12, 0.1, 5), (25, 0.1, 5), (60, 0.1, 6), (12, 0.5, 6),
                                                       (2, 0.1, 1), (8, 0.1, 4)])
def test_at_least_five_documents_are_held_out_where_as_many_remain(documents, fraction, held):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert prepare.held_out_count(documents, fraction, 5) == held
    assert bool(caught) == (held < 5), "a corpus too small for the floor is warned about, and only then"


def test_his_stage_is_matched_to_her_finished_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("P4_OUTPUTS", str(tmp_path / "outputs"))
    cfg = make_cfg(tmp_path, run_name="r")
    with pytest.raises(StageError, match="no control author's data"):
        matching.control_config(cfg, "pretraining")
    storage.write_json(tmp_path / "processed" / "control" / "manifest.json",
                       {"files": {}, "config": {"corpus": "his.txt"}})
    with pytest.raises(StageError, match="her stage has not finished"):
        matching.control_config(cfg, "pretraining")
    storage.write_json(tmp_path / "outputs" / "r" / "pretraining" / "manifest.json",
                       {"stage": "pretraining", "config": {"model": "tiny"}, "data": {"hash": "x"}, "steps": 37,
                        "resources": {"tokens": 9_472}})
    his, matched = matching.control_config(cfg, "pretraining")
    assert his.max_steps == 37 and his.corpus == "his.txt" and his.processed_dir.endswith("control")
    assert matched == {"arm": "pretraining", "steps": 37, "tokens": 9_472}
    assert matching.describe(matched) == "matched to pretraining: 37 optimiser steps (9,472 tokens)"
