"""The probe study's smaller instruments: retrieval and the probe files."""

import pytest

from lib.data import cleaning, corpus
from lib.study import probes
from lib.study.retrieval import Retriever
from tests.conftest import ROOT, SAMPLE


@pytest.fixture(scope="module")
def sample_docs():
    return cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]


# --- retrieval and intervals ------------------------------------------------------------------------

def test_retrieval_returns_the_right_document(sample_docs):
    chunks = [{"text": d.text, "document": d.name} for d in sample_docs]
    retriever = Retriever.from_chunks(chunks)
    top = retriever.search("consciousness capacity for experience moral standing rational capacity", k=3)
    assert top[0].document in {"the_capacity_for_experience.txt", "what_reason_cannot_ground.txt",
                               "minds_at_the_margins.txt"}
    assert retriever.search("checklist advance directive values letter", k=1)[0].document == "against_the_checklist.txt"


def test_probe_files_are_checked_line_by_line(tmp_path):
    for name in probes.PROBE_FILES.values():
        (tmp_path / name).write_text((ROOT / "data/probes" / name).read_text())
    assert len(probes.read_probes(tmp_path)["author_answers"]) >= 10
    (tmp_path / "override.jsonl").write_text('{"id": "x", "question": "q?"}\n')
    with pytest.raises(probes.ProbeError, match=r"override\.jsonl: line 1 lacks instruction"):
        probes.read_probes(tmp_path)


def test_a_probe_error_names_the_line_in_the_file_not_the_row(tmp_path):
    """Blank lines are skipped when reading, so the row's index is not its line: the message gives the line."""
    for name in probes.PROBE_FILES.values():
        (tmp_path / name).write_text((ROOT / "data/probes" / name).read_text())
    first = (ROOT / "data/probes/instructions.jsonl").read_text().splitlines()[0]
    (tmp_path / "instructions.jsonl").write_text(f"{first}\n\n\n{first}\n")  # the same id again, on line 4
    with pytest.raises(probes.ProbeError, match=r"instructions\.jsonl: line 4\b"):
        probes.check_usable(probes.read_probes(tmp_path), tmp_path, 400)
