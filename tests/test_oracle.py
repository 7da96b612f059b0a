"""Every measure of the study on texts whose origin is known (oracle arms), asserting what it must say.

With ../shared/corpora: the author is Schopenhauer (his essays split at their headings, a quarter held out),
the other voice Chesterton (half his essays on the generic side, the comparable register; half held out as
the other voice), the unseen voice and the rest of the generic side population authors (an excerpt of one
book each). Without it: the bundled sample author against the general reference text, one generic voice,
which cannot show what a measure of voice says of other authors: those tests skip, the others run.
"""

import numpy as np
import pytest

from lib import config
from lib.study import oracle, probes
from tests.conftest import ROOT, SHARED_CORPORA

SHARED = SHARED_CORPORA.exists()
needs_other_authors = pytest.mark.skipif(not SHARED, reason="needs other real authors (../shared/corpora)")


@pytest.fixture(scope="module")
def oracles(tmp_path_factory):
    sources = oracle.shared_sources(SHARED_CORPORA) if SHARED else oracle.sample_sources(ROOT)
    cfg = config.load_config(ROOT / "config.yaml", bootstrap_samples=1000,
                             authorship_words=150 if SHARED else 60)
    found = probes.read_probes(ROOT / "data" / "probes")
    if SHARED:
        found["author_answers"] = []  # the sample author's written answers are not Schopenhauer's
    study = oracle.oracle_study(sources, cfg, found, tmp_path_factory.mktemp("oracle"))
    rows = oracle.table(study)
    print("\n" + oracle.markdown(rows, study))
    return study, {(r["measure"], r["arm"]): r for r in rows}


def value(table, measure, arm):
    return table[(measure, arm)]["mean"]


@needs_other_authors
def test_the_authorship_measure_passes_its_own_check_on_real_authors(oracles):
    study, _ = oracles
    assert study.check.fit and study.check.mode == "author"
    assert study.check.sensitivity.mean >= 0.85, study.check.as_dict()
    assert study.check.specificity.mean >= 0.85, study.check.as_dict()
    assert study.check.sensitivity.n >= 100 and study.check.specificity.n >= 100


@needs_other_authors
def test_answers_called_the_authors_hear_the_author_and_only_her(oracles):
    _, table = oracles
    measure = "answers called the author's"
    assert value(table, measure, "replica") >= 0.8
    for arm in ["other_voice", "unseen_voice", "topic_swap"]:
        assert value(table, measure, arm) <= 0.2, arm
    short = table[(measure, "short")]
    assert short["n"] == 0 and "under" in short["excluded"], "answers too short to judge are counted, not scored"
    continuations = "continuations called the author's"
    assert value(table, continuations, "replica") >= 0.8 and value(table, continuations, "other_voice") <= 0.2


@needs_other_authors
def test_the_author_probability_rises_with_her_share_of_a_blend(oracles):
    _, table = oracles
    shares = np.array(oracle.BLENDS) / 100
    means = np.array([value(table, "author probability of answers", f"blend_{p}") for p in oracle.BLENDS])
    assert np.all(np.diff(means) > 0), means
    slope = np.polyfit(shares, means, 1)[0]
    assert slope >= 0.5, (slope, means)


@needs_other_authors
def test_digidan_reads_regurgitation_as_distinguishable_and_a_replica_as_chance(oracles):
    study, table = oracles
    measure = "DigiDan: the author's real answer picked"
    chance = 1 / (study.cfg.digidan_samples + 1)
    replica = table[(measure, "replica")]
    assert replica["ci_low"] <= chance <= replica["ci_high"], replica
    assert replica["reading"].startswith("indistinguishable")
    regurgitate = table[(measure, "regurgitate")]
    assert regurgitate["reading"].startswith("distinguishable"), regurgitate
    assert regurgitate["mean"] < chance, "training text looks more like her than her unseen answers do"
    assert table[(measure, "other_voice")]["reading"].startswith("distinguishable")


def test_verbatim_copies_of_her_training_text_are_found_and_nothing_else(oracles):
    _, table = oracles
    measure = "continuations copying her training text"
    assert value(table, measure, "regurgitate") == 1.0
    for arm in ("replica", "other_voice", "blend_50"):
        assert value(table, measure, arm) <= 0.05, arm
    if (("DigiDan: the author's real answer picked", "regurgitate")) in table:
        assert "copy" in table[("DigiDan: the author's real answer picked", "regurgitate")]["reading"]


def test_compliance_is_judged_on_whole_answers(oracles):
    study, table = oracles
    row = table[("instruction compliance", "truncating_complier")]
    assert row["mean"] == 1.0 and row["n"] == len(study.probes["instructions"]), row


def test_quoting_a_new_statement_to_reject_it_is_never_following_it(oracles):
    _, table = oracles
    assert value(table, "follows the new statement", "quoting_rejecter") == 0.0
