"""Real books, split right: the shapes a new user's first books have, written here in miniature (never copied
from ../shared): essays whose epigraph poems stand before their headings, a CONTENTS list whose entries
carry descriptive blurbs, footnote markers on headings, a salutation in a letter that a heading pattern
matches, a publisher's page named as the preview shows it, and a heading pattern that backtracks for ever."""

import re
import time
import warnings

import pytest

from lib.__main__ import main
from lib.data import cleaning, corpus, pairs, preview

SENTENCES = ["The friend is the one before whom I may think aloud, and that is rarer than it sounds.",
             "We ask of a companion that he be a match for us, and not merely an echo of our moods.",
             "History is read by each of us as a commentary on his own life, or it is not read at all.",
             "There is a tide in the affairs of a single mind that no calendar has ever measured."]


def prose(n: int, seed: int = 0) -> str:
    """n paragraphs of wrapped prose (about 350 characters each)."""
    paragraphs = []
    for i in range(n):
        words = " ".join(SENTENCES[(seed + i + k) % 4] for k in range(4)).split()
        lines, line = [], ""
        for w in words:
            if len(line) + len(w) > 70:
                lines.append(line)
                line = w
            else:
                line = f"{line} {w}".strip()
        paragraphs.append("\n".join(lines + [line]))
    return "\n\n".join(paragraphs)


# --- epigraphs before their headings ------------------------------------------------------------------

EPIGRAPHS = {
    "HISTORY": ("     Nothing is so great, nothing so small,\n     But the one mind holds it all:\n"
                "     Where it wanders, there are we;\n     And it wanders endlessly.\n\n"
                "     I have kept the keys of the year,\n     Of the sower's hand and the reaper's fear,\n"
                "     Of the scholar's lamp and the sailor's star;\n     I am where the ages are."),
    "SELF-RELIANCE": ('     "Seek not thyself outside thyself."\n\n     Cast the foundling on the stones,\n'
                      "     Let the hill-wind dry his bones;\n     Wolf and hawk shall be his kin,\n"
                      "     Power and speed shall grow within.\n\n     -- An old play, the epilogue"),
    "COMPENSATION": ("     The tides come in, the tides go out,\n     The moon is never long in doubt;\n"
                     "     And what the day has taken away\n     The night returns before the day.\n\n\n\n"
                     "     A second poem, set apart,\n     Keeps the balance of the heart:\n"
                     "     Who gives a little, gets the more;\n     So the sea repays the shore."),
    "FRIENDSHIP": ("     A ruddy drop of manly blood\n     The surging sea outweighs;\n"
                   "     The world uncertain comes and goes,\n     The lover rooted stays."),
}
OWN_VERSE = ("     So ends the road we never planned,\n     And every step was in our hand.")


def essays_with_epigraphs(path):
    """A title page, then four essays each opened by an epigraph set BEFORE its heading (several stanzas,
    some over ten lines, one of two poems apart); the second essay ends with a verse quotation of its own."""
    parts = ["ESSAYS: FIRST SERIES\nBY A. WRITER\n\n\n\n"]
    for i, (heading, epigraph) in enumerate(EPIGRAPHS.items()):
        body = prose(6, seed=i)
        if heading == "SELF-RELIANCE":
            body += "\n\n" + OWN_VERSE
        parts.append(f"{epigraph}\n\n\n\n{heading}\n\n\n{body}\n\n\n\n\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path


def first_line(text: str) -> str:
    return text.strip().split("\n")[0].strip()


def test_every_epigraph_goes_with_the_essay_it_opens_the_first_included(tmp_path):
    docs = corpus.load_corpus(essays_with_epigraphs(tmp_path / "essays.txt"), split_pattern=r"^[A-Z][A-Z-]+$",
                              verbose=False)
    assert [d.heading for d in docs] == list(EPIGRAPHS)
    for doc, (heading, epigraph) in zip(docs, EPIGRAPHS.items()):
        assert doc.text.lstrip().startswith(epigraph.strip()), (heading, doc.text[:120])
        others = [e for h, e in EPIGRAPHS.items() if h != heading]
        assert not any(first_line(e) in doc.text for e in others), f"{heading} holds another essay's epigraph"
        assert doc.text.rstrip().endswith((".", "hand.")), doc.text[-120:]
    assert docs[1].text.rstrip().endswith("And every step was in our hand."), "an essay's own closing verse stays"
    report = docs.file_reports[0]
    assert report["epigraphs_moved"] == 4
    assert report["front_matter_chars"] == len("ESSAYS: FIRST SERIES\nBY A. WRITER"), "only the title page goes"


def test_the_dry_run_counts_the_epigraphs_it_moved(tmp_path, capsys):
    path = essays_with_epigraphs(tmp_path / "essays.txt")
    code = main(["prepare", "--dry-run", "--corpus", str(path), "--split_pattern", "^[A-Z][A-Z-]+$",
                 "--processed_dir", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert code == 0
    assert "epigraphs set before their heading, moved to the section they open (4)" in out


# --- a CONTENTS list with blurbs ------------------------------------------------------------------------

DASH_BLURBS = {"ON STORIES": ["Why a life is a story--The patient's voice--What the family",
                              "remembers--Advance directives as chapters, not verdicts."],
               "ON SURROGATES": ["The surrogate's task--Substituted judgement--Best interests--Where the",
                                 "two part--A case from the wards, and what it taught."],
               "ON RIGHTS": ["Rights and stories--The limits of the checklist--Conclusion."]}
PAGE_BLURBS = {"ON STORIES": ["Why a life is a story, 2. The patient's voice, 5. What the family",
                              "remembers, 7. Advance directives as chapters, 9."],
               "ON SURROGATES": ["The surrogate's task, 14. Substituted judgement, 16. Best interests, 19."],
               "ON RIGHTS": ["Rights and stories, 27. The limits of the checklist, 30. Conclusion, 33."]}


def book_with_blurbs(path, blurbs: dict, style: str):
    """A Gutenberg book whose CONTENTS entries carry descriptive blurbs: topics run together with dashes under
    each entry (a paragraph of their own), or an analytic list with page numbers set under each entry."""
    if style == "dashes":
        contents = "PREFACE\n\n" + "".join(f"{h}\n\n" + "\n".join(f"    {b}" for b in lines) + "\n\n"
                                           for h, lines in blurbs.items())
    else:
        contents = "PREFACE . . . . . . . . v\n" + "".join(
            f"{h} . . . . . . . {3 + 12 * i}\n" + "".join(f"  {b}\n" for b in lines)
            for i, (h, lines) in enumerate(blurbs.items()))
    sections = "".join(f"{h}\n\n\n{prose(5, seed=i)}\n\n\n\n" for i, h in enumerate(["PREFACE", *blurbs]))
    path.write_text("The Project Gutenberg EBook of Bedside Essays\n\n"
                    "*** START OF THIS PROJECT GUTENBERG EBOOK BEDSIDE ESSAYS ***\n\n\n"
                    f"BEDSIDE ESSAYS\n\n\n\nCONTENTS\n\n{contents}\n\n\n{sections}"
                    "*** END OF THIS PROJECT GUTENBERG EBOOK BEDSIDE ESSAYS ***\nThe licence.\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("style, blurbs", [("dashes", DASH_BLURBS), ("pages", PAGE_BLURBS)])
def test_a_contents_lists_blurbs_go_with_the_list_and_are_reported(tmp_path, style, blurbs, capsys):
    path = book_with_blurbs(tmp_path / "book.txt", blurbs, style)
    docs = corpus.load_corpus(path, split_pattern=r"^(?:PREFACE|ON [A-Z]+)$", strip_gutenberg=True, verbose=False)
    assert [d.heading for d in docs] == ["PREFACE", *blurbs]
    every = [b for lines in blurbs.values() for b in lines]
    for doc in docs:
        assert not any(b[:30] in doc.text for b in every), f"a blurb is left in {doc.name}"
        assert doc.text.startswith("The friend is") or doc.text.startswith(("We ask", "History", "There is"))
    report = docs.file_reports[0]
    assert report["contents_blurb_chars"] == sum(map(len, every))
    assert report["contents_entries"] == 4 and "front_matter_chars" not in report
    main(["prepare", "--dry-run", "--corpus", str(path), "--split_pattern", r"^(?:PREFACE|ON [A-Z]+)$",
          "--strip_gutenberg", "true", "--processed_dir", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert f"descriptive blurbs under the CONTENTS entries (strip_gutenberg) ({sum(map(len, every)):,} chars)" in out


def test_a_preface_after_the_contents_is_not_taken_for_a_blurb(tmp_path):
    """Prose after a plain list (no dashes, no page numbers) is the text beginning, as before."""
    body = prose(3)
    path = tmp_path / "book.txt"
    path.write_text("*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n\nCONTENTS\n\nON STORIES\nON RIGHTS\n\n\n"
                    f"{body}\n\nON STORIES\n\n{prose(4, 1)}\n\nON RIGHTS\n\n{prose(4, 2)}\n", encoding="utf-8")
    text, counts = corpus.strip_gutenberg(path.read_text())
    assert text.startswith(body) and counts["contents_entries"] == 2 and not counts["contents_blurb_chars"]


# --- drop_sections as the preview shows the heading ------------------------------------------------------

def book_with_publisher_page(path):
    text = "".join(f"{h}\n\n\n{prose(5, seed=i)}\n\n\n\n" for i, h in enumerate(["ON STORIES", "ON RIGHTS"]))
    text += "LONGMANS, GREEN AND CO.\n\n\n" + ("The publishers announce a new series of essays by the same hand, to "
                                                "be issued in the coming season at a moderate price.\n" * 3)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("shown_as", [True, False])
def test_a_pattern_copied_from_the_preview_drops_that_section(tmp_path, shown_as):
    path = book_with_publisher_page(tmp_path / "book.txt")
    pattern = r"^[A-Z][A-Z ,.]+$"
    docs = corpus.load_corpus(path, split_pattern=pattern, verbose=False)
    shown = {r["document"]: r["heading"] for r in preview.rows(docs)}
    publisher = shown["book-longmans-green-and-co.txt"]
    assert publisher == "Longmans, Green and Co"  # the preview's title case, not the file's capitals
    drop = "^" + publisher.split(",")[0] if shown_as else "^LONGMANS"  # copied from the preview, or the file
    kept = corpus.load_corpus(path, split_pattern=pattern, drop_sections=drop, verbose=False)
    assert [d.name for d in kept] == ["book-on-stories.txt", "book-on-rights.txt"]
    assert kept.file_reports[0]["dropped_sections"] == 1


# --- footnote markers on headings ------------------------------------------------------------------------

def test_footnote_markers_leave_titles_names_and_questions(tmp_path, tiny_tokenizer):
    headings = ["THE WILL TO BELIEVE.[1]", "IS LIFE WORTH LIVING?*", "THE DILEMMA OF DETERMINISM\u00b2",
                "ON RIGHTS [2]"]
    path = tmp_path / "book.txt"
    path.write_text("".join(f"{h}\n\n\n{prose(5, seed=i)}\n\n\n\n" for i, h in enumerate(headings)), encoding="utf-8")
    docs = corpus.load_corpus(path, split_pattern=r"^[A-Z][^a-z]+$", verbose=False)
    assert [d.title for d in docs] == ["The Will to Believe", "Is Life Worth Living?", "The Dilemma of Determinism",
                                       "On Rights"]
    assert [d.name for d in docs] == ["book-the-will-to-believe.txt", "book-is-life-worth-living.txt",
                                      "book-the-dilemma-of-determinism.txt", "book-on-rights.txt"]
    assert [r["heading"] for r in preview.rows(docs)] == [d.title for d in docs]
    cleaned = cleaning.clean_corpus(docs)[0]
    questions = [p["question"] for p in pairs.template_pairs(cleaned, tiny_tokenizer, 3, 60, seed=0)]
    assert 'What do you argue in "The Will to Believe"?' in questions
    assert not [q for q in questions if re.search(r"\[\d\]|\*|\u00b2", q)], questions


# --- a salutation that the heading pattern matches -------------------------------------------------------

def book_with_a_letter(path):
    """Essays under capitals; "FRIENDSHIP" quotes a letter whose salutation is a line of capitals, and
    "HEROISM" has a shouted line of capitals a few lines in."""
    friendship = (prose(3, 1) + "\n\nI once set down what I could not say aloud, and sent it:\n\nDEAR FRIEND,\n\n"
                  + prose(5, 2))
    heroism = prose(1, 3) + "\n\nALL HANDS ON DECK\n\n" + prose(6, 0)
    essays = {"HISTORY": prose(8), "FRIENDSHIP": friendship, "HEROISM": heroism, "PRUDENCE": prose(8, 2)}
    path.write_text("".join(f"{h}\n\n\n{body}\n\n\n\n" for h, body in essays.items()), encoding="utf-8")
    return path


def test_a_heading_like_line_in_running_text_is_flagged_with_its_line_and_section(tmp_path):
    path = book_with_a_letter(tmp_path / "essays.txt")
    lines = path.read_text().split("\n")
    with pytest.warns(UserWarning) as caught:
        docs = corpus.load_corpus(path, split_pattern=r"^[A-Z][^a-z]+$", verbose=False)
    said = [str(w.message) for w in caught]
    dear = next(s for s in said if "'DEAR FRIEND,'" in s)
    assert f"line {lines.index('DEAR FRIEND,') + 1} " in dear and "it ends in ','" in dear
    assert "cut 'Friendship'" in dear and "split_pattern stricter" in dear
    deck = next(s for s in said if "'ALL HANDS ON DECK'" in s)
    assert f"line {lines.index('ALL HANDS ON DECK') + 1} " in deck and "cut 'Heroism'" in deck
    assert len(said) == 2, said  # the real headings are not flagged
    flagged = {r["document"]: r["looks like"] for r in preview.rows(docs)}
    assert "running text" in flagged["essays-dear-friend.txt"]
    assert "running text" in flagged["essays-all-hands-on-deck.txt"]
    assert not flagged["essays-history.txt"] and not flagged["essays-prudence.txt"]


def test_headings_over_two_lines_are_not_taken_for_running_text(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("".join(f"CHAPTER {n}.\nON {t}.\n\n\n{prose(4, i)}\n\n\n\n"
                            for i, (n, t) in enumerate([("I", "NOISE"), ("II", "BOOKS"), ("III", "SILENCE")])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        docs = corpus.load_corpus(path, split_pattern=r"^[A-Z][A-Z .]+\.$", verbose=False)
    assert [d.title for d in docs] == ["Chapter I. On Noise", "Chapter II. On Books", "Chapter III. On Silence"]


# --- a pattern that backtracks ---------------------------------------------------------------------------

def book_with_a_long_capitals_line(path):
    title = "ESSAYS ON SURROGATES, STORIES AND RIGHTS 1897"  # capitals, then what the pattern cannot match
    path.write_text(f"{title}\n\n\n\n" + "".join(f"{h}\n\n\n{prose(4, i)}\n\n\n\n"
                                                for i, h in enumerate(["ON STORIES", "ON RIGHTS"])))
    return path, title


def test_a_pattern_that_backtracks_catastrophically_is_stopped_with_one_line(tmp_path, capsys):
    path, title = book_with_a_long_capitals_line(tmp_path / "book.txt")
    started = time.process_time()
    code = main(["prepare", "--dry-run", "--corpus", str(path), "--split_pattern", "^([A-Z]|[A-Z ,.])+$",
                 "--processed_dir", str(tmp_path / "p")])
    spent = time.process_time() - started
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {path}: split_pattern '^([A-Z]|[A-Z ,.])+$' was stopped after 1 s on line 1")
    assert title[:40] in err[0] and "backtracks catastrophically" in err[0] and "e.g. '^[A-Z][A-Z ,.]*$'" in err[0]
    assert spent < 10, "stopped by its limit, not run to the end (about a minute of CPU for this line)"


def test_the_nested_repeat_from_the_field_report_splits_the_book(tmp_path):
    """`^([A-Z]+[ ,.]*)+$` took seconds per line in Python's own engine; the `regex` engine matches it."""
    path, _ = book_with_a_long_capitals_line(tmp_path / "book.txt")
    docs = corpus.load_corpus(path, split_pattern=r"^([A-Z]+[ ,.]*)+$", verbose=False)
    assert [d.heading for d in docs] == ["ON STORIES", "ON RIGHTS"]


def test_a_drop_sections_pattern_that_backtracks_is_stopped_naming_the_heading(tmp_path):
    path = tmp_path / "book.txt"
    heading = "ON SURROGATES, STORIES AND RIGHTS OF PATIENTS 1897"
    path.write_text(f"ON NOISE\n\n\n{prose(4)}\n\n\n\n{heading}\n\n\n{prose(4, 1)}\n")
    with pytest.raises(corpus.CorpusError) as caught:
        corpus.load_corpus(path, split_pattern="^ON .+$", drop_sections="^([A-Z]|[A-Z ,.])+$", verbose=False)
    message = str(caught.value)
    assert message.startswith(f"{path}: drop_sections '^([A-Z]|[A-Z ,.])+$' was stopped after 1 s on "
                              f"line {path.read_text().split(chr(10)).index(heading) + 1} ")
