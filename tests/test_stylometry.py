"""Burrows' Delta on texts whose relations are known: a writer is nearest to more of his own text, and the
register-matched pair of real essayists is nearer than either is to the sample's neutral reference text."""

import pytest

from lib.data import stylometry
from tests.conftest import ROOT, SHARED_CORPORA, needs_shared


def halves(text: str) -> tuple[str, str]:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs[::2]), "\n\n".join(paragraphs[1::2])


def test_a_writer_is_nearest_to_more_of_his_own_text():
    essays = (ROOT / "data/sample/complete_corpus.txt").read_text(encoding="utf-8")
    reference = (ROOT / "data/sample/general_reference.txt").read_text(encoding="utf-8")
    a, b = halves(essays)
    c, d = halves(reference)
    order = stylometry.nearest_to("essays A", {"essays A": [a], "essays B": [b], "reference C": [c],
                                               "reference D": [d]})
    assert order[0][0] == "essays B", order
    far = stylometry.register_distance([a], [c], {"reference D": [d], "essays B": [b]})
    near = stylometry.register_distance([a], [b], {"reference C": [c], "reference D": [d]})
    assert near["delta"] < far["delta"]
    assert near["share_nearer"] == 0.0 and far["share_nearer"] > 0


def test_delta_needs_writers_to_compare_with_and_words():
    with pytest.raises(ValueError, match="at least 3 writers"):
        stylometry.delta_matrix({"a": ["some words"], "b": ["other words"]})
    with pytest.raises(ValueError, match="no words"):
        stylometry.profiles({"a": ["1 2 3"], "b": ["words"]})


@needs_shared
def test_two_real_essayists_are_nearer_each_other_than_to_plain_reference_prose():
    schopenhauer = sorted((SHARED_CORPORA / "schopenhauer").glob("*.txt"))[0].read_text(encoding="utf-8")
    chesterton = (SHARED_CORPORA / "chesterton" / "11505.txt").read_text(encoding="utf-8")
    reference = (ROOT / "data/sample/general_reference.txt").read_text(encoding="utf-8")
    pairs = stylometry.nearest_pairs({"schopenhauer": [schopenhauer[20000:200000]],
                                      "chesterton": [chesterton[20000:200000]], "reference": [reference]})
    assert {pairs[0][0], pairs[0][1]} == {"schopenhauer", "chesterton"}, pairs
