"""Every measure of the study on texts whose origin is known (oracle arms), asserting what it must say.

Two pairs, each cut into the chunks a real run reads (`lib.study.oracle_sources`):
- the default pair: Schopenhauer (the author) and Chesterton (the control), every claim on every oracle arm;
- the population pair: the nearest essay-like writers of ../shared/corpora/population by Burrows' Delta
  (`oracle.population_pair`), the voice measures on the arms their known truth needs.
The other voice (the placebo: the essay-like writer nearest the author after the control) is never on the
generic side nor in the verifier's training. Without ../shared: the bundled sample author against the bundled
control author, the general reference text as the other voice, no generic side (the tests of the
author-versus-generic measure skip, the others run).
"""

import dataclasses
import json

import numpy as np
import pytest

from lib.data import stylometry
from lib.settings import config
from lib.study import oracle, oracle_sources, probes, replica, voice
from tests.conftest import ROOT, SHARED_CORPORA

SHARED = SHARED_CORPORA.exists()
needs_other_authors = pytest.mark.skipif(not SHARED, reason="needs other real authors (../shared/corpora)")
PRIMARIES = (voice.ANSWERS, voice.CONTINUATIONS)


def settings():
    return config.load_config(ROOT / "config.yaml", bootstrap_samples=1000, authorship_words=150)


def real(pair: str) -> bool:
    """A pair of real writers (../shared), not the bundled sample's dozen short essays a side."""
    return pair == "population" or SHARED


def probe_files():
    found = probes.read_probes(ROOT / "data" / "probes")
    if SHARED:
        found["author_answers"] = []  # the sample author's written answers are not these authors'
    return found


def keyed(study, results):
    rows = oracle.table(study, results)
    contrasts = oracle.voice_contrasts(study, results)
    print("\n" + oracle.markdown(rows, study) + "\n\n" + oracle.contrasts_markdown(contrasts))
    return ({(r["measure"], r["arm"]): r for r in rows},
            {(r["measure"], r["arm"], r["against"]): r for r in contrasts})


@pytest.fixture(scope="module")
def oracles(tmp_path_factory):
    """The default pair (or the bundled sample): every claim on every oracle arm."""
    sources = oracle.shared_sources(SHARED_CORPORA) if SHARED else oracle.sample_sources(ROOT)
    study = oracle.oracle_study(sources, settings(), probe_files(), tmp_path_factory.mktemp("oracle"))
    results = oracle.results(study)
    return (study, sources, *keyed(study, results))


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    """The population-built register-matched pair: the voice measures on the arms their known truth needs."""
    if not SHARED:
        pytest.skip("needs ../shared/corpora/population")
    sources = oracle.population_sources(SHARED_CORPORA)
    study = oracle.oracle_study(sources, settings(), probe_files(), tmp_path_factory.mktemp("population"),
                                names=oracle.VOICE_ARMS)
    return (study, sources, *keyed(study, oracle.voice_results(study)))


PAIRS = ["oracles", pytest.param("population", marks=needs_other_authors)]


def value(table, measure, arm):
    return table[(measure, arm)]["mean"]


# --- the harness cannot flatter ----------------------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS)
def test_the_other_voice_is_never_on_the_side_it_is_judged_against(pair, request):
    study, sources, _, _ = request.getfixturevalue(pair)
    writers = study.arms.writers
    if sources.other:
        other = writers["other voice"]
        assert other not in study.generic and other not in study.verifier.background, writers
        assert not {p[:200] for p in sources.other} & {t[:200] for texts in study.generic.values() for t in texts}
    assert writers["control"] not in study.generic, "the control is the verifier's question, not the generic side"


@pytest.mark.parametrize("pair", PAIRS)
def test_the_authors_text_is_cut_as_a_real_run_cuts_it(pair, request):
    study, sources, _, _ = request.getfixturevalue(pair)
    words = study.authorship.words
    cfg = study.cfg
    whole = sum(len(t.split()) // words for t in sources.author_train.values())
    cut = sum(len(t.split()) // words for t in study.author_train)
    assert cut >= 0.9 * whole, f"passages as long as a chunk: {cut} windows of {words} words, documents hold {whole}"
    if oracle_sources.chunk_tokenizer() is not None:
        tokenizer = oracle_sources.chunk_tokenizer()
        longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in study.author_train)
        assert longest <= (cfg.chunk_tokens or cfg.max_seq_length), longest
    assert len(study.author_held_out) >= min(cfg.min_held_out_documents, len(sources.author_held_out))


@needs_other_authors
def test_the_population_pair_is_the_nearest_by_delta_and_the_placebo_the_next_nearest():
    pair = oracle.population_pair(SHARED_CORPORA / "population")
    texts = {name: [text] for name, text in oracle_sources.delta_texts(SHARED_CORPORA / "population").items()}
    names = list(texts)
    matrix = stylometry.delta_matrix(texts)
    i, j = names.index(pair["author"]), names.index(pair["control"])
    assert matrix[i, j] == pytest.approx(pair["delta"]) == pytest.approx(np.min(matrix + np.eye(len(names)) * 99))
    others = [k for k in range(len(names)) if k not in (i, j)]
    assert names.index(pair["other_voice"]) == min(others, key=lambda k: matrix[i, k])
    assert pair["candidates"] >= 6 and len({pair["author"], pair["control"], pair["other_voice"]}) == 3


# --- claim 3: the two-author verifier and its primaries ---------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS)
def test_the_verifier_is_reported_as_verification_is_and_passes_on_held_out_documents(pair, request):
    study, _, _, _ = request.getfixturevalue(pair)
    quality = study.verifier.quality
    assert quality.fit and quality.documents["author"] >= 5 and quality.documents["control"] >= 5, quality.as_dict()
    if real(pair):
        assert quality.auc.mean >= 0.95 and quality.c_at_1.mean >= 0.9 and quality.brier.mean <= 0.08, quality.as_dict()
    else:  # 5 held-out essays of ~700 words a side, written for the project in one register
        assert quality.auc.mean >= 0.9 and quality.brier.mean <= 0.15, quality.as_dict()
    for figure in (quality.auc, quality.c_at_1, quality.brier):
        assert figure.low <= figure.mean <= figure.high and figure.high - figure.low > 0, figure


@pytest.mark.parametrize("pair", PAIRS)
def test_claim_3_primaries_read_her_against_the_control_and_more_of_her_as_more(pair, request):
    _, _, table, contrasts = request.getfixturevalue(pair)
    for measure in PRIMARIES:
        hers = contrasts[(measure, "replica", "control_replica")]
        assert hers["mean"] >= 0.6 and hers["ci_low"] > 0, hers
        half = contrasts[(measure, "blend_50", "control_replica")]
        assert (0.2 if real(pair) else 0.1) <= half["mean"] <= 0.8, half  # the sample's verifier: 0.19 at 150 words
        for arm, against in (("replica", "blend_50"), ("blend_75", "blend_25")):
            more = contrasts[(measure, arm, against)]
            # on real pairs the interval shows it; on the sample's 10 held-out essays the direction must hold
            assert (more["ci_low"] if real(pair) else more["mean"]) > 0, (measure, arm, against, more)
        assert value(table, measure, "control_replica") <= 0.15


@pytest.mark.parametrize("pair", PAIRS)
def test_claim_3_primaries_do_not_call_a_third_writer_in_her_register_hers(pair, request):
    """The placebo: another essayist's text (nowhere in training) is called hers hardly more than the control's:
    at most a tenth, and a tenth of her own voice's effect; far writers not at all. Not never: on the population
    pair the third writer (Delta-nearer her than the control) reads +0.07 [+0.01, +0.14] on continuations, a
    small effect 100 openings in 16 documents can see (docs: the verifier, what the primaries cannot show)."""
    _, sources, table, contrasts = request.getfixturevalue(pair)
    if not sources.other:
        pytest.skip("no third writer without ../shared")
    for measure in PRIMARIES:
        placebo = contrasts[(measure, "other_voice", "control_replica")]
        hers = contrasts[(measure, "replica", "control_replica")]
        assert placebo["mean"] <= 0.1 and placebo["mean"] <= 0.1 * hers["mean"], placebo
        assert value(table, measure, "other_voice") <= 0.2
        if sources.unseen:
            assert value(table, measure, "unseen_voice") <= 0.05
        # her topics in another voice: below her own voice by far (the primaries compare arms on the same prompts)
        assert value(table, measure, "topic_swap") <= value(table, measure, "replica") - 0.4


@needs_other_authors
def test_the_author_versus_generic_measure_hears_her_and_not_a_far_writer(oracles):
    """The old measure stays, exploratory: it hears her and not a far writer; what it says of writers in her
    register moves with its generic side (docs: the verifier), which is why claim 3's headline is the verifier's."""
    _, _, table, _ = oracles
    for measure in ("answers called the author's", "continuations called the author's"):
        assert value(table, measure, "replica") >= 0.8 and value(table, measure, "unseen_voice") <= 0.2, measure


@pytest.mark.parametrize("pair", PAIRS)
def test_the_verifier_rises_with_her_share_of_a_blend(pair, request):
    _, _, table, _ = request.getfixturevalue(pair)
    arms = ["control_replica", "blend_25", "blend_50", "blend_75", "replica"]
    means = np.array([value(table, voice.ANSWERS, arm) for arm in arms])
    # rises at every step, except between two arms both at the ceiling (where one answer of ~36 decides)
    assert all(b > a or min(a, b) >= 0.9 for a, b in zip(means, means[1:])), means
    assert np.polyfit([0, 0.25, 0.5, 0.75, 1], means, 1)[0] >= 0.8, means


def test_the_author_probability_rises_with_her_share_of_a_blend(oracles):
    _, _, table, _ = oracles
    if not oracles[0].authorship.fitted:
        pytest.skip("the author-versus-generic measure needs a generic side")
    means = np.array([value(table, "author probability of answers", f"blend_{p}") for p in oracle.BLENDS])
    assert np.all(np.diff(means) > 0), means
    assert np.polyfit(np.array(oracle.BLENDS) / 100, means, 1)[0] >= 0.4, means


def test_without_a_control_claim_3_primaries_are_not_computed_and_say_why(tmp_path):
    alone = dataclasses.replace(oracle.sample_sources(ROOT), control_train={}, control_held_out={})
    study = oracle.oracle_study(alone, settings(), probe_files(), tmp_path, names=["replica", "short"])
    measures, _, notes = voice.run(study)
    assert measures == [] and study.verifier is None
    assert [n.split(": not computed")[0] for n in notes] == voice.primary_contrasts()
    assert all("no control author" in n for n in notes)


# --- DigiDan and the questionnaire ------------------------------------------------------------------------

@needs_other_authors
def test_digidan_reads_regurgitation_as_distinguishable_and_a_replica_as_chance(oracles):
    study, _, table, _ = oracles
    measure = "DigiDan: the author's real answer picked"
    chance = 1 / (study.cfg.digidan_samples + 1)
    replica_row = table[(measure, "replica")]
    assert replica_row["ci_low"] <= chance <= replica_row["ci_high"], replica_row
    assert replica_row["reading"].startswith("indistinguishable")
    regurgitate = table[(measure, "regurgitate")]
    assert regurgitate["reading"].startswith("distinguishable"), regurgitate
    assert regurgitate["mean"] < chance, "training text looks more like her than her unseen answers do"
    assert table[(measure, "other_voice")]["reading"].startswith("distinguishable")


def test_digidan_items_carry_the_control_arms_answers_and_the_key_says_whose(oracles):
    study, _, table, _ = oracles
    foils = "DigiDan: the arm's answers read as hers over the control's"
    assert value(table, foils, "replica") >= 0.8, "her unseen answers read as hers over the control's"
    assert 0.3 <= value(table, foils, "blend_0") <= 0.7, "the control's sentences against the control: no difference"
    shown, key_path = replica.questionnaire_files(study, "replica")
    key = json.loads(key_path.read_text())
    page = shown["send to respondents"].read_text()
    assert key["control_arm"] == "control_replica" and "control_replica" not in page
    options = [source for item in key["items"].values() for source in item["options"].values()]
    assert options.count("control-0") == len(key["items"]) and options.count("author") == len(key["items"])
    assert "tuned on another writer" in page and key["chance"] == pytest.approx(1 / 6)


# --- the rest of claims 1-3 ---------------------------------------------------------------------------------

def test_verbatim_copies_of_her_training_text_are_found_and_nothing_else(oracles):
    _, _, table, _ = oracles
    measure = "continuations copying her training text"
    assert value(table, measure, "regurgitate") == 1.0
    for arm in ("replica", "control_replica", "blend_50"):
        assert value(table, measure, arm) <= 0.05, arm
    if (("DigiDan: the author's real answer picked", "regurgitate")) in table:
        assert "copy" in table[("DigiDan: the author's real answer picked", "regurgitate")]["reading"]


def test_compliance_is_judged_on_whole_answers(oracles):
    study, _, table, _ = oracles
    row = table[("instruction compliance", "truncating_complier")]
    assert row["mean"] == 1.0 and row["n"] == len(study.probes["instructions"]), row


def test_quoting_a_new_statement_to_reject_it_is_never_following_it(oracles):
    _, _, table, _ = oracles
    assert value(table, "follows the new statement", "quoting_rejecter") == 0.0


# --- claim 4 ----------------------------------------------------------------------------------------------

def test_hedges_and_boosters_read_her_own_rate_as_one_and_added_ones_as_more(oracles):
    _, _, table, _ = oracles
    hedges, boosters = ("hedges per 100 words, relative to the author's",
                        "boosters per 100 words, relative to the author's")
    if SHARED:  # the sample's held-out essays are too few words for her rate to hold on them
        assert 0.7 <= value(table, hedges, "replica") <= 1.4 and 0.7 <= value(table, boosters, "replica") <= 1.4
    assert value(table, boosters, "assertive") >= 3 * max(1.0, value(table, boosters, "replica"))
    assert value(table, hedges, "hedging") >= 3 * max(1.0, value(table, hedges, "replica"))
    assert value(table, hedges, "assertive") <= 1.5 * max(1.0, value(table, hedges, "replica"))


def test_support_counts_her_retrieved_words_and_cannot_hear_her_voice(oracles):
    _, _, table, _ = oracles
    support = "support by the author's passages"
    assert value(table, support, "quoting") >= 0.95
    assert 0.3 <= value(table, support, "half_quoting") <= 0.7
    for arm in ("replica", "control_replica", "regurgitate"):
        assert value(table, support, arm) <= 0.1, arm
