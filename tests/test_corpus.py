import re
import warnings

import pytest

from lib.data import cleaning, corpus
from lib.data.corpus import CorpusError
from tests.conftest import SAMPLE, SHARED_CORPORA, needs_shared


def write_concatenated(path, docs):
    path.write_text("".join(f"=== DOCUMENT: [{c}] {n} ===\n{t}\n" for c, n, t in docs), encoding="utf-8")
    return path


# --- formats ----------------------------------------------------------------------------------------

def test_sample_corpus_prints_the_seed_study_summary(capsys):
    docs = corpus.load_corpus(SAMPLE)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Parsed {len(docs)} documents"
    assert len(docs) >= 10
    assert out[1] == f"  - [{docs[0].category}] {docs[0].name}: {len(docs[0].text)} chars"
    assert re.fullmatch(r"  - \[Medical Ethics\] narrative_self\.txt: \d+ chars", out[1])
    assert len({d.category for d in docs}) >= 2
    assert all(2500 <= len(d.text) <= 6000 for d in docs)


def test_concatenated_format_keeps_category_name_and_text(tmp_path):
    path = write_concatenated(tmp_path / "c.txt", [("Ethics", "a.txt", "First text.\n\nMore."),
                                                    ("Mind", "b.tex", "Second \\emph{text}.")])
    a, b = corpus.load_corpus(path, verbose=False)
    assert (a.category, a.name, a.text) == ("Ethics", "a.txt", "First text.\n\nMore.")
    assert (b.category, b.name, b.kind) == ("Mind", "b.tex", "tex")


def test_folder_of_every_format(tmp_path):
    import docx
    from fpdf import FPDF

    root = tmp_path / "corpus"
    (root / "Ethics").mkdir(parents=True)
    (root / "Mind").mkdir()
    (root / "Ethics" / "plain.txt").write_text("Plain text essay about consent.")
    (root / "Ethics" / "notes.md").write_text("# A heading\n\nSome **bold** claim and a [link](http://x.org).")
    (root / "Mind" / "paper.tex").write_text(
        "\\documentclass{article}\\begin{document}\\section{Minds}Consciousness \\emph{matters}.\\end{document}")
    d = docx.Document()
    d.add_paragraph("A docx paragraph on surrogates.")
    d.save(root / "Mind" / "letter.docx")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="A PDF sentence about experience.")
    pdf.output(str(root / "Mind" / "talk.pdf"))
    (root / "Mind" / ".DS_Store").write_bytes(b"\x00\x01")  # hidden files are ignored

    docs = {d.name: d for d in corpus.load_corpus(root, verbose=False)}
    assert set(docs) == {"plain.txt", "notes.md", "paper.tex", "letter.docx", "talk.pdf"}
    assert docs["plain.txt"].category == "Ethics" and docs["talk.pdf"].category == "Mind"
    assert "surrogates" in docs["letter.docx"].text
    assert "PDF sentence about experience" in docs["talk.pdf"].text
    cleaned = {d.name: d.text for d in cleaning.clean_corpus(list(docs.values()))[0]}
    assert cleaned["notes.md"].startswith("A heading") and "**" not in cleaned["notes.md"]
    assert "link" in cleaned["notes.md"] and "http" not in cleaned["notes.md"]
    assert "Consciousness matters." in cleaned["paper.tex"] and "\\" not in cleaned["paper.tex"]


def test_one_long_file_split_by_headings(tmp_path):
    body = "Prose sentence. " * 20
    text = (f"A BOOK\n\nTRANSLATOR'S PREFACE.\n\n{body}\n\nON NOISE.\n\n{body}\n\nCHAPTER I.\n\n"
            f"ON SILENCE.\n\n{body}\n")
    (tmp_path / "book.txt").write_text(text)
    docs = corpus.load_corpus(tmp_path / "book.txt", split_pattern=r"^[A-Z][A-Z ,;:'-]+\.$",
                              drop_sections=r"(?i)translator", verbose=False)
    assert [d.name for d in docs] == ["book-on-noise.txt", "book-chapter-i-on-silence.txt"]
    assert docs[1].heading == "CHAPTER I. ON SILENCE." and docs[1].text.startswith("Prose sentence.")
    assert docs[1].title == "Chapter I. On Silence"
    # what the split removed is the file's, not charged to a document
    assert not docs[0].removed and docs.file_reports[0]["dropped_sections"] == 1
    assert docs.file_reports[0]["front_matter_chars"] > 0


def test_gutenberg_boilerplate_is_removed():
    text = ("The Project Gutenberg EBook of Essays\r\n\r\nTitle: Essays\r\n\r\n"
            "***START OF THE PROJECT GUTENBERG EBOOK ESSAYS;\r\nVOLUME ONE***\r\n\r\n"
            "Produced by Some Volunteers\r\n\r\nESSAYS\r\n\r\nCONTENTS.\r\n\r\n  ON NOISE\r\n  ON BOOKS\r\n\r\n"
            "ON NOISE.\r\n\r\nNoise is the most impertinent of all interruptions, said he.\r\n\r\n"
            "End of the Project Gutenberg EBook of Essays\r\n\r\n***END OF THE PROJECT GUTENBERG EBOOK ESSAYS***\r\n"
            "licence text\r\n")
    out, counts = corpus.strip_gutenberg(text)
    assert out == "ON NOISE.\n\nNoise is the most impertinent of all interruptions, said he.\n"
    assert counts["contents_entries"] == 2 and counts["credit_lines"] == 1
    assert counts["gutenberg_header_chars"] > 0 and counts["gutenberg_licence_chars"] > 0


# --- bad input ----------------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    with pytest.raises(CorpusError, match=r"nope\.txt: no such file or folder"):
        corpus.load_corpus(tmp_path / "nope.txt")


@pytest.mark.parametrize("make", ["empty_folder", "empty_file", "only_markers"])
def test_empty_corpus(tmp_path, make):
    if make == "empty_folder":
        path = tmp_path / "corpus"
        path.mkdir()
    elif make == "empty_file":
        path = tmp_path / "c.txt"
        path.write_text("")
    else:
        path = write_concatenated(tmp_path / "c.txt", [("A", "a.txt", "  "), ("A", "b.txt", "")])
    with pytest.raises(CorpusError, match="empty corpus"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the empty documents' own warnings are tested below
        corpus.load_corpus(path, verbose=False)


def test_invalid_bytes_name_the_file_and_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 au lait".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1\.txt: not valid UTF-8 text \(byte 0xe9 at offset 3\)"):
        corpus.load_corpus(path, verbose=False)


def test_duplicate_names(tmp_path):
    path = write_concatenated(tmp_path / "c.txt", [("A", "same.txt", "one"), ("B", "same.txt", "two")])
    with pytest.raises(CorpusError, match="two documents named 'same.txt'"):
        corpus.load_corpus(path, verbose=False)
    root = tmp_path / "folder"
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    (root / "A" / "x.txt").write_text("one")
    (root / "B" / "x.txt").write_text("two")
    with pytest.raises(CorpusError, match=r"B/x\.txt.*two documents named 'x.txt'"):
        corpus.load_corpus(root, verbose=False)


def test_unsupported_extension(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "essay.rtf").write_text("{\\rtf1 hello}")
    with pytest.raises(CorpusError, match=r"essay\.rtf: unsupported file type '\.rtf'"):
        corpus.load_corpus(tmp_path / "c", verbose=False)


def test_text_before_first_marker(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("stray line\n=== DOCUMENT: [A] a.txt ===\ntext\n")
    with pytest.raises(CorpusError, match="text before the first"):
        corpus.load_corpus(path, verbose=False)


def test_damaged_pdf(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(CorpusError, match=r"broken\.pdf: cannot read as \.pdf"):
        corpus.load_corpus(tmp_path / "c", verbose=False)


def test_empty_document_is_skipped_with_a_warning(tmp_path):
    path = write_concatenated(tmp_path / "c.txt", [("A", "full.txt", "text"), ("A", "hollow.txt", "\n  \n")])
    with pytest.warns(UserWarning, match="hollow.txt"):
        docs = corpus.load_corpus(path, verbose=False)
    assert [d.name for d in docs] == ["full.txt"]


def test_nothing_is_written_while_loading(tmp_path):
    path = write_concatenated(tmp_path / "c.txt", [("A", "a.txt", "text")])
    before = sorted(tmp_path.rglob("*"))
    corpus.load_corpus(path, verbose=False)
    assert sorted(tmp_path.rglob("*")) == before


# --- the real corpora ---------------------------------------------------------------------------------

SCHOPENHAUER_HEADINGS = r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$"
BOILERPLATE = [r"Project Gutenberg", r"\*\*\* ?START", r"\*\*\* ?END", r"\[Footnote", r"\r", r"^\s*CONTENTS",
               r"(?<![\w_])_\w[^_\n]*_(?![\w_])", r"\{\d+\}", r"\[\d+\]", r"Produced by", r"gutenberg\.org"]


@needs_shared
@pytest.mark.parametrize("name, split", [("schopenhauer", SCHOPENHAUER_HEADINGS), ("chesterton", None)])
def test_real_corpora_come_out_clean(name, split):
    docs = corpus.load_corpus(SHARED_CORPORA / name, split_pattern=split, strip_gutenberg=True,
                              drop_sections=r"(?i)translator|prefatory|^note", verbose=False)
    cleaned, reports = cleaning.clean_corpus(docs)
    assert sum(len(d.text) for d in cleaned) > 300_000
    for doc in cleaned:
        for pattern in BOILERPLATE:
            hit = re.search(pattern, doc.text, re.M)
            assert hit is None, f"{doc.name}: {pattern!r} survives: {doc.text[max(0, hit.start() - 60):hit.end() + 60]!r}"
    assert any(r.get("gutenberg_licence_chars") for r in docs.file_reports)
    if name == "schopenhauer":
        names = {d.name for d in cleaned}
        assert {"10714-on-style.txt", "10732-on-noise.txt", "10739-free-will-and-fatalism.txt"} <= names
        assert sum(r.get("footnote_blocks", 0) for r in reports) > 20
        assert len(cleaned) > 25


# --- markers written wrong, line endings, encodings, file names -----------------------------------------

@pytest.mark.parametrize("wrong", ["=== DOCUMENT: [Mind] b.txt ==", "==== DOCUMENT: [Mind] b.txt ===",
                                   " === DOCUMENT: [Mind] b.txt ===", "=== Document: [Mind] b.txt ==="])
def test_a_marker_after_the_first_written_wrong_is_an_error_naming_its_line(tmp_path, wrong):
    """Read as text, it would merge two documents and teach the marker line, file name and all."""
    path = tmp_path / "complete_corpus.txt"
    path.write_text(f"=== DOCUMENT: [Ethics] a.txt ===\nFirst text.\n\nMore of it.\n{wrong}\nSecond text.\n"
                    "=== DOCUMENT: [Mind] c.txt ===\nThird text.\n")
    with pytest.raises(CorpusError) as caught:
        corpus.load_corpus(path, verbose=False)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 5 looks like a document marker but is not one")
    assert wrong.strip() in message and "'=== DOCUMENT: [Category] file_name.txt ===' on a line of its own" in message


def test_lone_carriage_returns_end_lines_and_cannot_hide_a_marker(tmp_path):
    path = tmp_path / "complete_corpus.txt"
    path.write_bytes(b"=== DOCUMENT: [Ethics] a.txt ===\rFirst text.\r\rMore of it.\r"
                     b"=== DOCUMENT: [Mind] b.txt ===\rSecond text.\r=== DOCUMENT: [Mind] c.txt ===\r\nThird.\r\n")
    docs = corpus.load_corpus(path, verbose=False)
    assert [d.name for d in docs] == ["a.txt", "b.txt", "c.txt"]
    cleaned, reports = cleaning.clean_corpus(docs)
    assert [d.text for d in cleaned] == ["First text.\n\nMore of it.\n", "Second text.\n", "Third.\n"]
    assert reports[0]["line_endings"] == 2, "a lone CR is counted with the line endings it is"
    wrong = tmp_path / "wrong.txt"
    wrong.write_bytes(b"=== DOCUMENT: [Ethics] a.txt ===\rFirst text.\r=== DOCUMENT: [Mind] b.txt ==\rSecond.\r")
    with pytest.raises(CorpusError, match=r"wrong\.txt: line 3 looks like a document marker"):
        corpus.load_corpus(wrong, verbose=False)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_text_with_a_byte_order_mark_in_utf16_or_utf32_is_read(tmp_path, encoding):
    path = tmp_path / "essay.txt"
    text = "Caf\u00e9 society and the narrative self \u2014 a note.\n"
    data = text.encode(encoding)
    path.write_bytes(data if encoding != "utf-16-be" else b"\xfe\xff" + data)
    [doc] = corpus.load_corpus(path, verbose=False)
    assert doc.text == text


def test_utf16_without_a_byte_order_mark_is_named_as_utf16(tmp_path):
    path = tmp_path / "essay.txt"
    path.write_bytes("Plain words from a Windows editor.\r\n".encode("utf-16-le"))
    with pytest.raises(CorpusError) as caught:
        corpus.load_corpus(path, verbose=False)
    assert str(caught.value) == (f"{path}: UTF-16 text without a byte-order mark (every other byte is 0); re-save "
                                 "it as UTF-8")


def test_a_file_name_that_is_not_utf8_is_named_and_refused(tmp_path):
    import os

    root = tmp_path / "corpus"
    (root / "Letters").mkdir(parents=True)
    (root / "Letters" / "ok.txt").write_text("A letter.")
    with open(os.path.join(os.fsencode(root / "Letters"), b"caf\xe9.txt"), "w") as fh:
        fh.write("Another letter.")
    with pytest.raises(CorpusError) as caught:
        corpus.load_corpus(root, verbose=False)
    message = str(caught.value)
    assert message.startswith(f"{root}/Letters/caf\\xe9.txt: the file name is not valid UTF-8") and "rename" in message
    message.encode("utf-8")  # printable as it is


def test_a_marker_holding_a_nul_byte_is_refused(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("=== DOCUMENT: [A] a.txt ===\ntext\n=== DOCUMENT: [A] b\x00.txt ===\nmore\n")
    with pytest.raises(CorpusError, match=r"c\.txt: line 3: the marker holds a control character"):
        corpus.load_corpus(path, verbose=False)
