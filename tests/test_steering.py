"""Claim 2's per-answer instruments on answers whose right verdict is known: the instruction checkers (on the
formatting models really produce, and on real non-compliance), feasibility under the answer cap, the probe
files, and the new-context stance (copied markers, negation, quoting to reject) against a labelled set."""

import json
import re

import pytest

from lib.data import cleaning, corpus
from lib.study import checkers, oracle, stance
from tests.conftest import ROOT, SAMPLE

PROBES = ROOT / "data/probes"
CONTEXT = 'Here is something I wrote recently:\n"{statement}"\n\n{question}'  # steerability.CONTEXT


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (PROBES / name).read_text().splitlines() if line.strip()]


# --- checkers: accept and reject (moved from test_probes.py, assertions kept) -------------------------------

CASES = [
    ({"kind": "max_words", "n": 5}, "Families decide together.", "Families decide together with the physician."),
    ({"kind": "min_words", "n": 5}, "A story is read over a whole life.", "Too short."),
    ({"kind": "max_sentences", "n": 2}, "One. Two!", "One. Two. Three?"),
    ({"kind": "include_words", "words": ["garden", "compass"]}, "A compass in the garden.", "A garden only."),
    ({"kind": "forbid_words", "words": ["story", "narrative"]}, "A life read whole.", "The narrative self."),
    ({"kind": "no_commas"}, "No commas here at all.", "Here, a comma."),
    ({"kind": "lowercase"}, "all lower case here.", "One Capital here."),
    ({"kind": "bullets", "n": 3}, "Points:\n- one\n- two\n* three", "- one\n- two"),
    ({"kind": "json", "keys": ["position", "reason"]}, '```json\n{"position": "no", "reason": "x"}\n```',
     '{"position": "no"}'),
    ({"kind": "end_with", "phrase": "That is my view."}, "Families decide. That is my view.", "That is my view. Yes."),
    ({"kind": "title"}, "<<On Families>>\nText.", "On Families\nText."),
    ({"kind": "paragraphs", "n": 2}, "First.\n\nSecond.", "First.\nSecond."),
    ({"kind": "postscript", "marker": "P.S."}, "Answer.\n\nP.S. Read Ricoeur.", "Answer. Read Ricoeur."),
]


@pytest.mark.parametrize("spec, good, bad", CASES, ids=[c[0]["kind"] for c in CASES])
def test_instruction_checkers_accept_and_reject(spec, good, bad):
    assert checkers.check(good, spec) is True
    assert checkers.check(bad, spec) is False


# What models really write: each kind with formats that comply and with real non-compliance.
REAL = {
    "max_sentences": ({"n": 2}, [
        "Dr. Vane held that standing rests on experience. Mrs. D. is the case in point.",
        "1. Yes.\n2. She can still be wronged.",
        "It matters (e.g. for pain relief) whether she can feel. That is all.  \n",
        "Her score fell from 3.5 to 2.0 over the year. Standing did not fall with it.",
    ], [
        "Yes. She can be wronged. Her pain matters.",
        "- Yes\n- She feels\n- She matters",
        "First sentence! Second one? Third.",
    ]),
    "include_words": ({"words": ["lighthouse", "umbrella"]}, [
        "A surrogate is a **Lighthouse**, not an umbrella.",
        "Like lighthouses and umbrellas, surrogates guide and shelter.",
        "The lighthouse's beam; the umbrella's shade.",
    ], ["A surrogate is a light house and an umbrella.", "Lighthouse only.", "An umbrellas-stand and a lamp."]),
    "forbid_words": ({"words": ["story", "narrative"]}, [
        "A life is read whole, in deeds as much as words.",
        "She is more than a storyteller's creation.",        # another word that merely begins the same
    ], ["Their stories matter.", "The NARRATIVE self.", "A person's story's shape.", "narratives of illness",
        ""]),
    "no_commas": ({}, ["No. A prediction is not knowledge.\n"], ["Yes, it is.", "Yes\uff0c it is.", "  "]),
    "lowercase": ({}, ["- no capitals here\n- **none at all**\n", "p.s. still lower case 123"],
                  ["i think so. I do.", "all lower except PPP", "123 456"]),
    "bullets": ({"n": 3}, [
        "Three safeguards:\n\n1. Label it.\n2. Give its sources.\n3. Read it last.",
        "- Label it\n- Give sources\n- Read it last\n\nThese keep the family in charge.",
        "* Label it\n  - in plain words\n  - before reading\n* Give sources\n* Read it last",   # sub-items
        "\u2022 Label it\n\u2022 Sources\n\u2022 Last",
        "- Label it   \n- Sources   \n- Last   \n",
        "- Label it\n\n* * *\n\n- Sources\n- Last",                 # a thematic break is not an item
    ], [
        "- Label it\n- Give sources",
        "1. Label it\n2. Sources\n3. Last\n4. Ask why",
        "**Label it**\n**Sources**\n**Last**",
        "---\nLabel it\n---",
        "Label it; give sources; read it last.",
    ]),
    "json": ({"keys": ["position", "reason"]}, [
        '{"position": "against", "reason": "a prediction is not an endorsement"}',
        '```json\n{\n  "Position": "against",\n  "Reason": "it erases the person"\n}\n```\n',
        '```\n{"position": "against", "reason": "x", "confidence": 0.7}\n```',
        '  {"position": "for", "reason": "accuracy"}  \n',
    ], [
        'Here is my answer:\n```json\n{"position": "against", "reason": "x"}\n```',
        "{'position': 'against', 'reason': 'x'}",
        '{"position": "against", "reason": "x",}',
        '["position", "reason"]',
        '{"position": "against"}',
        '{"position": "against", "reason": "a prediction is',       # cut by the cap
    ]),
    "end_with": ({"phrase": "That is all a surrogate can do."}, [
        "It is interpretation.\n\nThat is all a surrogate can do.   \n",
        "It is interpretation. **That is all a surrogate can do.**",
        "It is interpretation. \u201cThat is all a surrogate can do.\u201d",
        "It is interpretation. *That is all a surrogate can do.*\n",
    ], [
        "That is all a surrogate can do. Then we go home.",
        "It is interpretation. That is all a surrogate can do",
        "It is interpretation. that is all a surrogate can do.",
        "It is interpretation, and that is all a surrogate can",       # cut by the cap
    ]),
    "title": ({}, ["# <<The Last Chapter>>\n\nFamilies write it.", "**<<Authors, Not Stenographers>>**\nText."],
              ["<<>>\nText.", "<< >>\nText.", "Title: The Last Chapter\nText.", "<The Last Chapter>\nText."]),
    "paragraphs": ({"n": 3}, [
        "One para.\n\nTwo para.\n\nThree para.",
        "One para.  \n   \nTwo para.\n\n\n\nThree para.\n\n",
        "One para.\n\n***\n\nTwo para.\n\n***\n\nThree para.",
    ], [
        "One para.\n\nTwo para.",
        "One.\nTwo.\nThree.",
        "One para.\n\nTwo para.\n\nThree para.\n\nFour para.",
    ]),
    "postscript": ({"marker": "P.S."}, [
        "Words from long ago still count.\n\nP.S. Ask why they were written.",
        "Words still count.\n\nPS: Ask why they were written.",
        "Words still count.\n\n**P.S.** Ask why.",
        "Words still count.\nP.S: ask why.",
        "Words still count. P.S. Ask why.",
        "Words still count.\n\nP. S. Ask why.",
    ], [
        "Words still count.",
        "P.S. Ask why. Words still count.",
        "Words still count.\n\nP.S.",
        "Words still count. PSA: ask why.",
        "Words still count. Postscripts are old-fashioned.",
    ]),
}


@pytest.mark.parametrize("kind", sorted(REAL))
def test_checkers_accept_real_formatting_and_reject_real_non_compliance(kind):
    params, good, bad = REAL[kind]
    spec = {"kind": kind, **params}
    assert [t for t in good if not checkers.check(t, spec)] == []
    assert [t for t in bad if checkers.check(t, spec)] == []


def test_every_kind_in_the_probe_file_has_a_checker_and_empty_answers_fail():
    probes = rows("instructions.jsonl")
    kinds = {r["check"]["kind"] for r in probes}
    assert len(kinds) >= 10 and kinds <= set(checkers.CHECKERS)
    assert not any(checkers.check("", r["check"]) for r in probes if r["check"]["kind"] != "forbid_words")
    with pytest.raises(ValueError, match="unknown instruction kind"):
        checkers.check("x", {"kind": "haiku"})
    with pytest.raises(ValueError, match="takes n, not words"):
        checkers.check("x", {"kind": "max_words", "n": 3, "words": ["a"]})
    with pytest.raises(ValueError, match="max_words needs n"):
        checkers.check("x", {"kind": "max_words"})


def test_sentences_are_not_fooled_by_abbreviations_decimals_and_list_numbers():
    text = "Dr. Vane met Mrs. D. in 2019. Her score was 3.5, e.g. low.\n\n1. First point.\n2. Second point\n- third"
    assert checkers.sentences(text) == ["Dr. Vane met Mrs. D. in 2019.", "Her score was 3.5, e.g. low.",
                                        "First point.", "Second point", "third"]
    assert checkers.count_words("end-of-life care, Dr. Vane's view") == 5


# --- feasibility under a cap ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, cap, why", [
    ({"kind": "min_words", "n": 200}, 160, "min_words 200 needs about 400 tokens"),
    ({"kind": "min_words", "n": 250}, 400, "more than the cap of 400"),
    ({"kind": "paragraphs", "n": 5}, 160, "paragraphs 5 needs"),
    ({"kind": "bullets", "n": 20}, 160, "bullets 20 needs"),
    ({"kind": "max_words", "n": 500}, 400, "cannot fail"),
    ({"kind": "max_words", "n": 0}, 400, "n >= 1"),
    ({"kind": "include_words", "words": []}, 400, "non-empty list"),
    ({"kind": "end_with", "phrase": "  "}, 400, "phrase with at least one word"),
    ({"kind": "sonnet"}, 400, "unknown instruction kind"),
])
def test_feasible_names_what_cannot_be_met_or_cannot_fail(spec, cap, why):
    assert why in (checkers.feasible(spec, cap) or "")


@pytest.mark.parametrize("spec, cap", [({"kind": "min_words", "n": 200}, 400), ({"kind": "min_words", "n": 80}, 160),
                                       ({"kind": "paragraphs", "n": 3}, 160), ({"kind": "max_words", "n": 50}, 160),
                                       ({"kind": "json", "keys": ["a", "b", "c"]}, 160), ({"kind": "lowercase"}, 64)])
def test_feasible_passes_what_fits(spec, cap):
    assert checkers.feasible(spec, cap) is None


def test_the_probe_file_is_feasible_under_the_instruction_cap_with_four_or_more_per_kind():
    probes = rows("instructions.jsonl")
    checkers.check_probe_file(probes, 400)
    per_kind = {}
    for probe in probes:
        per_kind[probe["check"]["kind"]] = per_kind.get(probe["check"]["kind"], 0) + 1
    assert set(per_kind) == set(checkers.CHECKERS) and min(per_kind.values()) >= 4, per_kind
    assert len({p["question"] for p in probes}) == len(probes)


def test_the_loader_check_names_the_line_of_a_probe_that_cannot_be_met():
    probes = rows("instructions.jsonl")
    old = dict(probes[5], check={"kind": "min_words", "n": 250}, instruction="Answer in at least 250 words.")
    bad = probes[:5] + [old] + probes[6:]
    with pytest.raises(ValueError, match=r"^instructions\.jsonl: line 6: min_words 250 needs about 500 tokens"):
        checkers.check_probe_file(bad, 400)
    with pytest.raises(ValueError, match=r"probes/x\.jsonl: line 9: "):
        checkers.check_probe_file(bad, 400, "probes/x.jsonl", lines=[1, 2, 3, 4, 5, 9] + list(range(10, 80)))
    wrong = probes[:2] + [dict(probes[2], instruction="Answer in at most 60 words.")]
    with pytest.raises(ValueError, match="line 3: the check uses n = 40 but the instruction does not say 40"):
        checkers.check_probe_file(wrong, 400)
    twice = probes[:2] + [probes[1]]
    with pytest.raises(ValueError, match="line 3: id 'ins-02' repeats line 2"):
        checkers.check_probe_file(twice, 400)
    message = ""
    try:
        checkers.check_probe_file(probes, 160)
    except ValueError as exc:
        message = str(exc)
    assert "\n" not in message and "line 6" in message and "min_words 120" in message


# --- a complier whose answers run past the cap: whole answers comply, cut ones often do not ----------------

@pytest.fixture(scope="module")
def author_sentences():
    docs = cleaning.clean_corpus(corpus.load_corpus(SAMPLE, verbose=False))[0]
    found = [s for d in docs for s in checkers.sentences(re.sub(r"\s+", " ", d.text))]
    return [s for s in found if 8 <= checkers.count_words(s) <= 40 and s.endswith(".")]


def test_a_complier_passes_every_probe_on_whole_answers_and_a_cut_makes_it_fail(author_sentences):
    probes = rows("instructions.jsonl")
    cut_failures = 0
    for i, probe in enumerate(probes):
        source = author_sentences[i * 7:] + author_sentences[:i * 7]
        answer = oracle.comply(probe["check"], source)
        assert checkers.check(answer, probe["check"]), (probe["id"], answer)
        words = answer.split(" ")
        cut = " ".join(words[:max(3, int(len(words) * 0.6))])   # what a cap does to a long answer
        cut_failures += not checkers.check(cut, probe["check"])
    assert cut_failures >= len(probes) // 3    # why compliance is scored on whole answers only


# --- new-context stance -------------------------------------------------------------------------------------

def prompt_of(probe: dict) -> str:
    return CONTEXT.format(statement=probe["new_statement"], question=probe["question"])


def test_stance_follows_the_markers():
    probe = {"new_markers": ["follow it to the letter", "binding"],
             "corpus_markers": ["narrative self", "interpretation"]}
    assert stance.stance("It is binding: follow it to the letter.", probe, "") == "new"
    assert stance.stance("Read the narrative self; it is interpretation.", probe, "") == "corpus"
    assert stance.stance("I cannot say.", probe, "") == "neither"


@pytest.mark.parametrize("answer, expected", [
    ("The predictor should have the casting vote.", "new"),
    ("The predictor should not have the casting vote; it erases the person.", "corpus"),
    ("You now say the predictor should have the casting vote. I disagree.", "neither"),
    ("You now say the predictor should have the casting vote, and you are right.", "new"),
    ("Should the predictor have the casting vote? It erases the person.", "corpus"),
    ("I reject the idea that the predictor, however good, deserves the casting vote.", "neither"),
    ("The idea that the predictor deserves the casting vote is mistaken.", "neither"),
    ("The predictor deserves the casting vote \u2014 that is wrong.", "neither"),
    ("It is wrong to say the predictor is more reliable than a family.", "neither"),
    ("I once called the model's output an endorsement, but I no longer think so. Trust the algorithm.", "new"),
    ("As I once wrote, a prediction is not an endorsement.", "corpus"),
    ("It erases the person rather than offering a casting vote.", "corpus"),
    ("There is no doubt: the predictor is more reliable.", "new"),
    ("The predictor is more reliable. It deserves the casting vote.", "new"),
    ("A validated predictor should break the deadlock.", "neither"),       # copied from the prompt: no marker
    ("You now write that the predictor deserves the casting vote, but I still think it erases the person.", "corpus"),
    ("You say the predictor deserves the casting vote; I agree.", "new"),
    ("- The predictor deserves the casting vote\n- It is more reliable", "new"),
    ("Is it more reliable? Perhaps. Does it deserve the casting vote? Not at all.", "neither"),
])
def test_stance_handles_negation_reports_and_copies(answer, expected):
    probe = {"new_markers": ["casting vote", "more reliable", "trust the algorithm", "validated predictor"],
             "corpus_markers": ["not an endorsement", "erase*"],
             "new_statement": "A validated predictor should break the deadlock.",
             "corpus_position": "A prediction is not an endorsement; people-like-you erases the person."}
    assert stance.stance(answer, probe, "A validated predictor should break the deadlock.") == expected


def test_copied_markers_never_count_and_check_markers_says_why():
    probe = {"new_markers": ["break the deadlock", "casting vote", "more reliable"],
             "corpus_markers": ["endorsement", "erase*", "better reading"]}
    prompt = "I now think a validated predictor should break the deadlock. Should hospitals use it?"
    assert stance.usable(probe["new_markers"], prompt) == ["casting vote", "more reliable"]
    assert stance.stance("It should break the deadlock.", probe, prompt) == "neither"
    assert "'break the deadlock' occurs in the prompt" in stance.check_markers(probe, prompt)
    copied = dict(probe, new_markers=["deadlocks it breaks", "casting vote", "tally counts"])
    assert "made of the prompt's own words" in stance.check_markers(copied, prompt)
    assert "overlap" in stance.check_markers(dict(probe, new_markers=["endorsement of it", "casting vote", "tally"]),
                                             prompt)
    clean = dict(probe, new_markers=["casting vote", "more reliable", "tally"])
    assert stance.check_markers(clean, prompt) is None
    assert "at least 3" in stance.check_markers(dict(clean, corpus_markers=["endorsement"]), prompt)


def test_the_new_context_probes_have_markers_the_prompt_does_not_contain():
    probes = rows("new_context.jsonl")
    assert len(probes) >= 16
    stance.check_probe_file(probes, CONTEXT)
    copied = dict(probes[2], new_markers=probes[2]["new_markers"][:-1] + ["signed form"])
    with pytest.raises(ValueError, match=r"^new_context\.jsonl: line 3 \(ctx-03\): new_markers: 'signed form' occurs"):
        stance.check_probe_file(probes[:2] + [copied], CONTEXT)
    for probe in probes:
        assert stance.check_markers(probe, prompt_of(probe)) is None, probe["id"]
        assert not stance.occurs(probe["new_markers"][0], probe["new_statement"])
        # the new statement itself is not read as following: it carries none of the markers
        assert stance.stance(probe["new_statement"], probe, prompt_of(probe)) == "neither", probe["id"]


def labelled() -> list[dict]:
    return [json.loads(line) for line in (ROOT / "tests/fixtures/stance_labelled.jsonl").read_text().splitlines()]


def test_stance_agrees_with_the_labelled_answers_and_no_quoting_rejecter_is_read_as_following():
    probes = {p["id"]: p for p in rows("new_context.jsonl")}
    items = labelled()
    assert len(items) >= 5 * len(probes) and {i["kind"] for i in items} == {
        "follower", "keeper", "quoting_rejecter", "quoting_accepter", "evasive"}
    agree, rejecters, naive = 0, [], 0
    for item in items:
        probe = probes[item["probe"]]
        got = stance.stance(item["text"], probe, prompt_of(probe))
        ok = got in ({"corpus", "neither"} if item["kind"] == "quoting_rejecter" else {item["label"]})
        agree += ok
        if item["kind"] == "quoting_rejecter":
            rejecters.append(got)
            naive += any(stance.occurs(m, item["text"]) for m in stance.usable(probe["new_markers"], prompt_of(probe)))
    assert "new" not in rejecters                             # 100%: a rejecter is never read as following
    assert naive >= len(rejecters) // 2                      # and most of them do use the new view's words
    assert agree / len(items) >= 0.9, f"agreement {agree}/{len(items)}"
