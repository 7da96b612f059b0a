"""The DigiDan protocol on texts of known origin: typography made uniform, machine answers cut and filtered
as specified, the two-sided reading, and a surface-feature classifier that must not find the real answer
when every option is genuine prose by the same author (and must, when the options give it away)."""

import numpy as np
import pytest
from scipy import stats as sps

from lib.data import cleaning, corpus
from lib.study import digidan
from tests.conftest import SAMPLE, SHARED_CORPORA, needs_shared


# --- typography ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("\u201cYes,\u201d she said \u2014 and left\u2026", '"Yes," she said \u2014 and left...'),
    ('"Yes," she said -- and left...', '"Yes," she said \u2014 and left...'),
    ("\u2018Yes\u2019 \u2013 she said. . .", "'Yes' \u2014 she said..."),
    ("It isn\u2019t so - not at all.", "It isn't so \u2014 not at all."),
    ("It was\u2014as ever\u2014late.", "It was \u2014 as ever \u2014 late."),
    ("In 1914\u20131918 the war.", "In 1914-1918 the war."),
    ("A well-known  view,\n\nspread\u00a0over\tlines .", "A well-known view, spread over lines."),
    ("**Firstly**, the *patient* decides.\n- one\n- two", "Firstly, the patient decides. one two"),
    ("## Answer\nNo\u200b.", "Answer No."),
    ("2 * 3 is six; a*b too.", "2 * 3 is six; a*b too."),
])
def test_normalise_makes_typography_uniform(raw, clean):
    assert digidan.normalise(raw) == clean
    assert digidan.normalise(clean) == clean, "normalising twice changes nothing"


def test_a_real_and_a_machine_option_end_up_in_the_same_typography():
    author = "I wince \u2014 a little \u2014 each time; the phrase \u201cquality of life\u201d is \u2018ours\u2019\u2026"
    model = 'I wince -- a little -- each time; the phrase "quality of life" is \'ours\' . . .'
    assert digidan.normalise(author) == digidan.normalise(model)


@pytest.mark.parametrize("word, ends", [("end.", True), ('end."', True), ("end?)", True), ("Yes!", True),
                                        ("Dr.", False), ("G.", False), ("etc.", False), ("e.g.", False),
                                        ("off...", False), ("word", False), ("word,", False)])
def test_sentence_ends(word, ends):
    assert digidan.ends_sentence(word) is ends


# --- cutting -----------------------------------------------------------------------------------------------

REAL = " ".join(["word"] * 19 + ["end."])                                  # X = 20 words


def machine_with_ends(*ends: int, total: int = 60) -> str:
    return " ".join("stop." if i + 1 in ends else "text" for i in range(total))


def test_the_published_rule_cuts_at_the_first_sentence_end_after_x_minus_5():
    assert digidan.cut_point(REAL, "schwitzgebel") == 15
    cut = digidan.cut_like(machine_with_ends(10, 17, 30), REAL, rule="schwitzgebel")
    assert len(cut.split()) == 17 and cut.endswith("stop.")
    assert len(digidan.cut_like(machine_with_ends(15), REAL, rule="schwitzgebel").split()) == 15
    assert digidan.cut_like(machine_with_ends(10, 14), REAL, rule="schwitzgebel") is None, "ends no sentence in time"
    assert digidan.cut_like(machine_with_ends(total=14), REAL, rule="schwitzgebel") is None, "too short"
    assert digidan.shown_real(REAL, "schwitzgebel") == REAL


def test_the_shared_rule_cuts_every_option_at_the_same_point():
    real = " ".join(["a"] * 9 + ["one."] + ["b"] * 15 + ["two."] + ["c"] * 13 + ["three."])   # X = 40
    assert digidan.cut_point(real) == 20
    assert digidan.shown_real(real) == " ".join(real.split()[:26]), "the author's own full stop after word 20"
    one_long = real.replace("two.", "two")
    assert digidan.shown_real(one_long) == one_long, "the sentence over word 20 ends the answer: shown whole"
    assert len(digidan.cut_like(machine_with_ends(12, 22, 50), real).split()) == 22
    assert digidan.cut_like(machine_with_ends(12, total=19), real) is None
    longer = " ".join(["a"] * 44 + ["one."] + ["b"] * 14 + ["two."])                             # X = 60
    assert digidan.shown_real(longer) == " ".join(["a"] * 44 + ["one."])
    assert digidan.shown_real(" ".join(["a"] * 44 + ["one"] + ["b"] * 14 + ["two"])) is None
    with pytest.raises(ValueError, match="cut rule"):
        digidan.cut_point(real, "halfway")


def test_abbreviations_and_initials_are_not_cut_points():
    machine = "text " * 16 + "as Dr. Ward and G. K. Chesterton said. More text follows here."
    cut = digidan.cut_like(machine, REAL, rule="schwitzgebel")
    assert cut.endswith("Chesterton said.")


# --- who is speaking --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "As an AI language model, I cannot hold views on surrogates.",
    "I'm an AI assistant, but here is a view.",
    "I am just a language model.",
    "Dennett would say the self is a story.",
    "My training data suggests otherwise.",
    "I don't have personal opinions, but families matter.",
    "I'm sorry, but I can't answer that.",
    "The answer.<|eot_id|>",
    "assistant: Families decide together.",
    "Nobody reads Daniel Dennett that way.",
])
def test_outputs_that_give_the_speaker_away(text):
    assert digidan.names_the_speaker(text, ["Daniel Dennett"])


@pytest.mark.parametrize("text", [
    "I am an adult, and I decide for myself.",
    "As a physician, I have watched families decide.",
    "The model of the heart as a pump is old.",
    "Every language has a word for duty.",
    "A dennett is a kind of carriage.",          # lower case: not the name
    "I was trained as a nurse.",
])
def test_ordinary_prose_is_not_excluded(text):
    assert not digidan.names_the_speaker(text, ["Daniel Dennett"])


# --- building items ---------------------------------------------------------------------------------------

QUESTION = {"id": "q1", "question": "What is a life\u2019s story?", "answer": REAL, "source": "written"}
OUTPUTS = [
    "Too short to count.",                                               # excluded: short
    machine_with_ends(18).replace("text", "Dennett", 1),                 # excluded: names the author
    machine_with_ends(19),                                               # kept
    machine_with_ends(19),                                               # excluded: repeats a kept one
    machine_with_ends(16, 40).replace("text", "\u201cquoted\u201d", 1),  # kept, quotes normalised
    machine_with_ends(17).replace("text", "other", 2),                   # kept
    machine_with_ends(21).replace("text", "more", 3),                    # kept
    machine_with_ends(22),                                               # not needed
]


def test_build_items_excludes_counts_and_normalises():
    calls = []

    def sample(question, attempt):
        calls.append((question, attempt))
        return OUTPUTS[attempt]

    items, counts = digidan.build_items([QUESTION], sample, n_machine=4, author_names=["Daniel Dennett"],
                                        rule="schwitzgebel")
    assert calls == [(QUESTION["question"], k) for k in range(7)], "attempts numbered 0, 1, ... until enough"
    assert counts == {"items": 1, "rule": "schwitzgebel", "attempts": 7, "excluded_short": 1,
                      "excluded_speaker": 1, "excluded_duplicate": 1, "items_dropped": 0, "dropped_ids": []}
    (item,) = items
    assert item["question"] == "What is a life's story?" and item["real"] == REAL and item["source"] == "written"
    assert [len(m.split()) for m in item["machine"]] == [19, 16, 17, 21]
    assert '"quoted"' in item["machine"][1] and all(m.endswith("stop.") for m in item["machine"])


def test_an_item_without_enough_usable_answers_is_dropped_and_counted():
    items, counts = digidan.build_items([QUESTION, dict(QUESTION, id="q2")], lambda q, k: "Far too short.",
                                        max_tries=5)
    assert items == [] and counts["items_dropped"] == 2 and counts["dropped_ids"] == ["q1", "q2"]
    assert counts["attempts"] == 10 and counts["excluded_short"] == 10


def test_bad_items_are_refused_with_their_id():
    with pytest.raises(ValueError, match="'q9' lacks answer"):
        digidan.build_items([{"id": "q9", "question": "Why?"}], lambda q, k: "")
    with pytest.raises(ValueError, match="source 'invented'"):
        digidan.build_items([dict(QUESTION, source="invented")], lambda q, k: "")


# --- the two-sided reading ---------------------------------------------------------------------------------

@pytest.mark.parametrize("picked, verdict", [(30, "distinguishable: the real answer stands out"),
                                             (1, "distinguishable: the machine answers look more like the author"),
                                             (10, "indistinguishable at this sample size"),
                                             (14, "indistinguishable at this sample size")])
def test_pick_rate_reads_both_directions(picked, verdict):
    result = digidan.pick_rate([True] * picked + [False] * (50 - picked), chance=0.2)
    assert result["verdict"].startswith(verdict)
    assert result["picked"] == picked and result["n"] == 50 and result["rate"] == picked / 50
    assert result["p_value"] == pytest.approx(sps.binomtest(picked, 50, 0.2).pvalue)
    assert result["ci_low"] < result["rate"] < result["ci_high"] or picked in (0, 50)
    assert result["detectable_below"] < 0.2 < result["detectable_above"] < 0.45
    assert result["estimate"].mean == result["rate"] and result["estimate"].p_value == result["p_value"]


def test_ten_items_cannot_see_below_chance():
    result = digidan.pick_rate([False] * 10, chance=0.2)
    assert result["verdict"] == "indistinguishable at this sample size"
    assert result["detectable_below"] is None and result["detectable_above"] > 0.5
    assert digidan.pick_rate([], 0.2)["verdict"] == "no items"


# --- the surface check, on genuine prose of known origin -------------------------------------------------

def sentences(path) -> list[list[str]]:
    """The corpus as sentences of normalised words (Gutenberg boilerplate and wrapping removed)."""
    docs = cleaning.clean_corpus(corpus.load_corpus(path, strip_gutenberg=True, verbose=False))[0]
    out = []
    for doc in docs:
        for paragraph in doc.text.split("\n\n"):
            current = []
            for word in digidan.normalise(paragraph).split():
                current.append(word)
                if digidan.ends_sentence(word):
                    out.append(current)
                    current = []
    return [s for s in out if 3 <= len(s) <= 90]


def passage(pool: list[list[str]], start: int, words: int) -> str:
    out = []
    for sentence in pool[start:]:
        if len(out) >= words:
            break
        out += sentence
    return " ".join(out)


def oracle_items(pool, n_items: int, seed: int, rule: str = "shared", leaky: bool = False) -> list[dict]:
    """Real answers: passages of 40-150 words ending at a full stop. Machine answers: other passages of the
    same author (the replica oracle), through build_items; or, leaky, cut mid-sentence at 85% of X words."""
    rng = np.random.default_rng(seed)
    real = [{"id": f"o{k}", "question": "q", "answer": passage(pool, int(rng.integers(0, len(pool) - 60)),
                                                             int(rng.integers(40, 150))), "source": "held-out passage"}
            for k in range(n_items)]
    machine = lambda question, attempt: passage(pool, int(rng.integers(0, len(pool) - 60)), 400)  # noqa: E731
    if not leaky:
        return digidan.build_items(real, machine, rule=rule)[0]
    return [{"id": r["id"], "question": "q", "real": digidan.normalise(r["answer"]),
             "machine": [" ".join(machine("q", k).split()[:int(0.85 * len(r["answer"].split()))]) for k in range(4)]}
            for r in real]


def check_surface(pool):
    fair = digidan.surface_pick_rate(oracle_items(pool, 300, seed=1))
    assert fair.low <= 0.2 <= fair.high, f"the form gives the real answer away: {fair}"
    leaky = digidan.surface_pick_rate(oracle_items(pool, 50, seed=2, leaky=True))
    assert leaky.low > 0.2 and leaky.p_value < 0.001, f"the check must catch answers cut mid-word: {leaky}"
    return fair


def test_the_form_gives_nothing_away_on_the_sample_author():
    check_surface(sentences(SAMPLE))


@needs_shared
@pytest.mark.parametrize("author", ["schopenhauer", "chesterton"])
def test_the_form_gives_nothing_away_on_real_authors(author):
    check_surface(sentences(SHARED_CORPORA / author))


@needs_shared
def test_the_published_cut_leaks_length_for_long_sentences():
    """Schopenhauer writes 31-word sentences: cut at X - 5, the machine answers run long and the surface
    classifier finds the real answer well above chance, which is why the default cut is shared."""
    published = digidan.surface_pick_rate(oracle_items(sentences(SHARED_CORPORA / "schopenhauer"), 100, seed=1,
                                                       rule="schwitzgebel"))
    assert published.low > 0.2


def test_another_sources_answers_join_an_item_as_foils_filtered_alike():
    machine = [machine_with_ends(19), machine_with_ends(17).replace("text", "other", 2)]
    foils = ["Too short to count.", machine[0], machine_with_ends(18).replace("text", "control", 1)]
    items, counts = digidan.build_items([QUESTION], lambda q, k: machine[k], n_machine=2, rule="schwitzgebel",
                                        foils=lambda q, k: foils[k], n_foils=1)
    (item,) = items
    assert [len(m.split()) for m in item["machine"]] == [19, 17] and len(item["control"]) == 1
    assert item["control"][0].startswith("control") and len(item["control"][0].split()) == 18
    assert counts["excluded_short"] == 1 and counts["excluded_duplicate"] == 1, "a foil repeating an option is no foil"
    dropped, counts = digidan.build_items([QUESTION], lambda q, k: machine[k % 2], n_machine=2, rule="schwitzgebel",
                                          foils=lambda q, k: "Too short.", n_foils=1, max_tries=3)
    assert dropped == [] and counts["dropped_ids"] == ["q1"], "an item without its foil is dropped, not shown short"
    plain, _ = digidan.build_items([QUESTION], lambda q, k: machine[k], n_machine=2, rule="schwitzgebel")
    assert plain[0]["control"] == []
