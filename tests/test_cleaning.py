from lib.data import cleaning, corpus
from lib.data.corpus import Document
from tests.conftest import SAMPLE


def clean(text, kind="txt", unwrap=True):
    doc, report = cleaning.clean_document(Document("d.txt", "C", text, "test", kind), unwrap)
    return doc.text, report


def test_unicode_and_line_endings():
    text, report = clean("caf\u0065\u0301\u00a0bar\u200b baz\r\nnext line\r\n")
    assert text == "caf\u00e9 bar baz next line\n"
    assert report["line_endings"] == 2 and report["unicode_fixes"] > 0


def test_hyphenated_words_are_joined_but_real_compounds_keep_the_hyphen():
    text, report = clean("A conscious-\nness of self-\nevident truths; the self-evident one.\nA Hyphen-\nAtion.")
    assert "consciousness" in text and "self-evident truths" in text
    assert "Hyphen- Ation" in text or "Hyphen-\nAtion" in text  # capitalised: not a broken word
    assert report["hyphenations_joined"] == 2


def test_page_markers_and_page_number_lines():
    text, report = clean("First para.\n\n{12}\n\nSecond {13} para.\n\n7\n\n- 8 -\n\nThird [Pg 9] para.")
    assert text == "First para.\n\nSecond para.\n\nThird para.\n"
    assert report["page_markers"] == 3 and report["page_numbers"] == 2


def test_footnote_blocks_and_markers():
    raw = ("A claim[1] and another.[2] See Kant^3.\n\n[Footnote 1: Kant, [Greek: logos] says\nso.]\n\n"
           "[Footnote 2: Also\nthis.]\n\nMore prose\u00b9.")
    text, report = clean(raw)
    assert text == "A claim and another. See Kant.\n\nMore prose.\n"
    assert report["footnote_blocks"] == 2 and report["footnote_markers"] == 4


def test_italic_marks_including_across_lines():
    text, report = clean("An _emphatic_ word and _a phrase\nacross lines_ but snake_case_name stays.")
    assert text == "An emphatic word and a phrase across lines but snake_case_name stays.\n"
    assert report["italic_marks"] == 2


def test_unwrapping_keeps_paragraphs_and_lists():
    text, report = clean("one\ntwo\nthree\n\n- item a\n- item b\n\n\n\nlast")
    assert text == "one two three\n\n- item a\n- item b\n\nlast\n"
    assert clean("one\ntwo", unwrap=False)[0] == "one\ntwo\n"


def test_latex_keeps_the_prose():
    raw = r"""\documentclass{article}
\usepackage{amsmath}
\begin{document}
\section{Surrogates}
% a private note
Families decide \emph{with} the patient~\cite{smith}, as in Section~\ref{sec:x}.\footnote{A note.}
\begin{figure}\includegraphics{x.png}\caption{Gone}\end{figure}
\begin{itemize}\item first point \item second point\end{itemize}
Costs rise by 50\% when $n$ grows.
\end{document}
trailing junk"""
    text, report = clean(raw, kind="tex")
    assert text.startswith("Surrogates\n\nFamilies decide with the patient, as in Section.")
    assert "- first point" in text and "Costs rise by 50% when n grows." in text
    for gone in ("private note", "Gone", "\\", "smith", "A note", "junk", "amsmath"):
        assert gone not in text
    assert report["latex_comments"] == 1 and report["latex_commands"] > 3 and report["latex_environments"] >= 2


def test_report_counts_characters_before_and_after():
    text, report = clean("Some _words_ here.\n\n{3}\n")
    assert report["chars_before"] == len("Some _words_ here.\n\n{3}\n")
    assert report["chars_after"] == len(text)
    assert cleaning.summarise(report).startswith(("italic marks: 1", "page markers: 1"))


def test_sample_corpus_cleaning_finds_what_was_planted():
    docs = corpus.load_corpus(SAMPLE, verbose=False)
    cleaned, reports = cleaning.clean_corpus(docs)
    total = {k: sum(r.get(k, 0) for r in reports) for k in
             ("hyphenations_joined", "italic_marks", "footnote_blocks", "footnote_markers", "page_markers",
              "page_numbers")}
    assert all(v > 0 for v in total.values()), total
    for doc in cleaned:
        assert "[Footnote" not in doc.text and "{" not in doc.text and "-\n" not in doc.text
        assert "\n\n\n" not in doc.text and not doc.text.startswith(" ")


def test_nul_and_other_control_characters_are_removed_and_counted():
    raw = "A line\x00 with a NUL.\x07\n\nA form\x0cfeed, a DEL\x7f and a C1 \x93quote\x94.\tTab stays.\n"
    text, report = clean(raw)
    assert text == "A line with a NUL.\n\nA form feed, a DEL and a C1 quote. Tab stays.\n"  # the feed: a line end
    assert report["control_characters"] == 6
    assert not cleaning.CONTROL.search(text)
