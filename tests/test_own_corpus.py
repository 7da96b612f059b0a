"""Bringing your own corpus: a Gutenberg-style book with everything a real one carries, a PDF with running
headers, the split preview, the template questions, and the worked example on a real book in docs/corpus.md."""

import json
import re
import warnings

import pytest

from lib.__main__ import main
from lib.data import cleaning, corpus, pairs, prepare
from lib.files import storage
from lib.settings import config
from tests.conftest import ROOT, SHARED_CORPORA, make_cfg, needs_shared

PROSE = ("The patient's story is not a form to be filled in, and the surrogate who reads it so has misread it. "
         "We owe the person a hearing of the whole of their life, not of one afternoon. ")


def essay(title: str, n: int = 6, footnotes: bool = False) -> str:
    body = "\r\n\r\n".join(PROSE * 3 for _ in range(n))
    notes = "\r\n\r\n[1] An address to the\r\nworking men of Norwich.\r\n\r\n[2] Reprinted from the Review." \
        if footnotes else ""
    return f"{title}\r\n\r\n\r\n{body[:200]}[1] {{12}} {body[200:]}{{viii}}\r\n\r\n{notes}\r\n\r\n\r\n\r\n"


def book(path):
    """A Project Gutenberg book as a new user meets one: CRLF, header and licence, a title page, a CONTENTS
    list with dot leaders, page markers, footnotes gathered at each chapter's end, an epigraph set before
    its heading, an index and the publisher's adverts."""
    epigraph = '     "Give me liberty, or give me death!"\r\n                     -- PATRICK HENRY.\r\n\r\n'
    text = ("The Project Gutenberg EBook of Bedside Essays\r\n\r\n"
            "*** START OF THIS PROJECT GUTENBERG EBOOK BEDSIDE ESSAYS ***\r\n\r\n\r\n"
            "Produced by Volunteers\r\n\r\n\r\nBEDSIDE ESSAYS\r\n\r\nLONDON: METHUEN & CO.\r\n\r\n\r\n"
            "CONTENTS\r\n\r\nON STORIES . . . . . . . . 1\r\nON SURROGATES . . . . . . 9\r\nON RIGHTS . . . . . . 17\r\n\r\n\r\n"
            + essay("ON STORIES", footnotes=True) + "\r\n\r\n" + epigraph
            + essay("ON SURROGATES", footnotes=True) + essay("ON RIGHTS")
            + "INDEX\r\n\r\nAdvance directives, 3, 9\r\nAutonomy, 12\r\nBedside, 1, 4, 17\r\nConsent, 2, 8\r\n"
            + "Families, 5\r\nSurrogates, 9-16\r\n\r\n\r\n"
            + "*** END OF THIS PROJECT GUTENBERG EBOOK BEDSIDE ESSAYS ***\r\nThe licence text follows here.\r\n")
    path.write_bytes(text.encode())
    return path


HEADINGS = r"^ON [A-Z]+$"


@pytest.fixture
def loaded(tmp_path):
    return corpus.load_corpus(book(tmp_path / "book.txt"), split_pattern=HEADINGS, strip_gutenberg=True,
                              verbose=False)


# --- reading ---------------------------------------------------------------------------------------------

def test_a_crlf_concatenated_corpus_is_read_by_its_markers(tmp_path):
    path = tmp_path / "complete_corpus.txt"
    path.write_bytes(b"=== DOCUMENT: [Ethics] a.txt ===\r\nFirst text.\r\n\r\n"
                     b"=== DOCUMENT: [Mind] b.txt ===\r\nSecond text.\r\n")
    a, b = corpus.load_corpus(path, verbose=False)
    assert (a.name, a.category, b.name, b.category) == ("a.txt", "Ethics", "b.txt", "Mind")
    assert cleaning.clean_document(a)[0].text == "First text.\n"


def test_a_marker_written_wrong_is_named(tmp_path):
    path = tmp_path / "complete_corpus.txt"
    path.write_text("=== DOCUMENT: Ethics / a.txt ===\nFirst text.\n")
    with pytest.raises(corpus.CorpusError, match=r"line 1 looks like a document marker but is not one"):
        corpus.load_corpus(path, verbose=False)


def test_the_book_splits_into_its_essays_with_headings_out_of_the_text(loaded):
    assert [d.name for d in loaded] == ["book-on-stories.txt", "book-on-surrogates.txt", "book-on-rights.txt"]
    assert [d.title for d in loaded] == ["On Stories", "On Surrogates", "On Rights"]
    lines = loaded[0].source.split("#")[0]
    raw = open(lines, encoding="utf-8").read().replace("\r\n", "\n").split("\n")
    assert [raw[d.line - 1] for d in loaded] == ["ON STORIES", "ON SURROGATES", "ON RIGHTS"]
    assert loaded[0].line > 15, "the heading's line in the file, not in the CONTENTS list"
    assert not any(d.text.lstrip().startswith("ON ") for d in loaded), "headings are titles, not text"


def test_an_epigraph_goes_with_the_essay_it_opens(loaded):
    stories, surrogates, _ = loaded
    assert "liberty" not in stories.text
    assert surrogates.text.lstrip().startswith('"Give me liberty')
    assert loaded.file_reports[0]["epigraphs_moved"] == 1


def test_the_index_is_not_appended_to_the_last_essay(loaded):
    last = loaded[-1]
    assert "Autonomy, 12" not in last.text and re.search(r"one afternoon\. ?\{viii\}$", last.text.rstrip())
    assert loaded.file_reports[0]["index_chars"] > 50


def test_what_the_file_loses_is_its_own_not_the_first_documents(loaded):
    report = loaded.file_reports[0]
    assert report["gutenberg_header_chars"] > 0 and report["gutenberg_licence_chars"] > 0
    assert report["contents_entries"] == 3
    _, reports = cleaning.clean_corpus(loaded)
    assert reports[0]["chars_before"] == len(loaded[0].text), "the licence is not charged to the first essay"


def test_cleaning_removes_the_books_noise_and_counts_it(loaded):
    cleaned, reports = cleaning.clean_corpus(loaded)
    for doc in cleaned:
        for noise in (r"\{\d+\}", r"\{[ivxlc]+\}", r"\[\d\]", r"An address to", r"Reprinted from", r"\. \. \."):
            assert not re.search(noise, doc.text), (noise, doc.name)
    total = lambda key: sum(r.get(key, 0) for r in reports)  # noqa: E731
    assert total("footnote_blocks") == 4 and total("page_markers") == 6 and total("footnote_markers") == 3


def test_roman_page_markers_dot_leaders_and_partial_italics():
    raw = ("Contents\n\nOn Noise . . . . . . . 12\nOn Books ........... ix\n\n"
           "An _un_worthy end{viii} and a worth_less_ claim, but snake_case_name stays.\n\nxii\n")
    doc, report = cleaning.clean_document(corpus.Document("d.txt", "C", raw, "t"))
    assert doc.text == "Contents\n\nAn unworthy end and a worthless claim, but snake_case_name stays.\n"
    assert report["contents_lines"] == 2 and report["italic_marks"] == 2
    assert report["page_markers"] == 1 and report["page_numbers"] == 1


# --- PDF ------------------------------------------------------------------------------------------------

def test_pdf_running_headers_are_dropped_and_paragraphs_kept(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(True, margin=20)

    def header():
        pdf.set_y(8)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 5, "ON SURROGATES - H. VANE")
        pdf.set_font("Helvetica", size=11)
        pdf.set_y(20)

    pdf.header = header
    pdf.footer = lambda: (pdf.set_y(-12), pdf.cell(0, 5, f"Page {pdf.page_no()}", align="C"))
    pdf.add_page()
    for i in range(8):
        pdf.multi_cell(0, 6, f"Paragraph {i}. " + ("The surrogate stands where the patient cannot. " * 12).strip())
        pdf.ln(4)
    (tmp_path / "c").mkdir()
    pdf.output(str(tmp_path / "c" / "talk.pdf"))
    [doc] = corpus.load_corpus(tmp_path / "c", verbose=False)
    text = cleaning.clean_document(doc)[0].text
    assert "H. VANE" not in text and "Page " not in text
    paragraphs = text.strip().split("\n\n")
    assert len(paragraphs) == 8 and all(p.startswith(f"Paragraph {i}.") for i, p in enumerate(paragraphs))
    assert all(p.endswith("cannot.") for p in paragraphs), "a paragraph split by a page break is joined again"


def test_an_image_only_pdf_says_it_needs_ocr(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a page with a picture and no text layer
    (tmp_path / "c").mkdir()
    pdf.output(str(tmp_path / "c" / "scan.pdf"))
    with pytest.raises(corpus.CorpusError, match=r"scan\.pdf: no text .* run OCR on it"):
        corpus.load_corpus(tmp_path / "c", verbose=False)


# --- template questions -----------------------------------------------------------------------------------

def test_template_questions_ask_about_real_topics_in_good_english(tiny_tokenizer):
    text = ("I cracked an egg. The egg was cold, and the way it broke was like nothing. The narrative self is "
            "a story. A narrative self is told. Such a way of thinking. The surrogate decides. The surrogate "
            "listens to the narrative self. ") * 3
    docs = [corpus.Document(f"{i}.txt", "C", f"Title {i}?\n\n" + text, "t") for i in range(3)]
    built = pairs.template_pairs(docs, tiny_tokenizer, per_document=4, answer_tokens=60, seed=0)
    questions = [p["question"] for p in built]
    assert 'What do you argue in "Title 0?"' in questions, "a title's own ? closes the question"
    assert not any(q.endswith('?"?') for q in questions)
    assert not any(re.search(r"\b(?:egg|way|like)\?", q) for q in questions), questions
    assert any("the narrative self" in q or "the surrogate" in q for q in questions), questions


# --- the preview ----------------------------------------------------------------------------------------

def test_the_preview_shows_headings_sizes_what_is_dropped_and_why(tmp_path, capsys):
    path = book(tmp_path / "book.txt")
    code = main(["prepare", "--dry-run", "--corpus", str(path), "--split_pattern", HEADINGS,
                 "--strip_gutenberg", "true", "--processed_dir", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert code == 0 and not (tmp_path / "p").exists(), "a dry run writes nothing"
    assert "book-on-surrogates.txt" in out and "On Surrogates" in out and "validation" in out
    assert re.search(r"Project Gutenberg licence \(strip_gutenberg\) \(\d+ chars\)", out)
    assert "the book's index at the end" in out and "CONTENTS list entries" in out


def test_a_wrong_pattern_is_flagged_not_silently_trusted(tmp_path):
    from lib.data import preview

    path = book(tmp_path / "book.txt")
    cfg = make_cfg(tmp_path, corpus=str(path), split_pattern=r"^[A-Z][A-Z .&:]+$", strip_gutenberg=False)
    docs = corpus.from_config(cfg, verbose=False)
    table = {r["document"]: r["looks like"] for r in preview.rows(docs)}
    first = table[docs[0].name]
    assert "a publisher's or title page" in first and "a contents list" in first, table
    assert not any(d.heading.startswith("INDEX") for d in docs), "a section headed INDEX is dropped ..."
    report = preview.report(cfg)
    assert "the book's index at the end" in report, "... and the preview says so"
    assert f"warning: {docs[0].name} looks like" in report
    assert "text under headings with almost nothing under them" in report


# --- the sample's files with your own corpus -----------------------------------------------------------

def test_the_samples_question_file_is_not_used_with_your_corpus(tmp_path, tiny_tokenizer):
    cfg = make_cfg(tmp_path, corpus=str(book(tmp_path / "book.txt")), split_pattern=HEADINGS,
                   strip_gutenberg=True, val_fraction=0.34)
    with pytest.warns(UserWarning, match=r"qa_file: data/sample/qa_pairs\.jsonl holds the sample author's"):
        manifest = prepare.run(cfg, tokenizer=tiny_tokenizer, verbose=False)
    assert "researcher" not in manifest["pairs_by_source"]
    answers = [r["completion"][0]["content"] for name in ("instruction_train.jsonl", "instruction_val.jsonl")
               for r in storage.read_jsonl(tmp_path / "processed" / name)]
    assert answers and not [a for a in answers if re.search(r"^\[\d\]|An address to|\. \. \.|\{", a)], \
        "no answer is a footnote, a contents line or a page marker"
    with pytest.raises(pairs.PairsError, match="not in the corpus"):  # named explicitly, it is checked
        prepare.run(cfg.replace(qa_file="data/sample/qa_pairs.jsonl"), tokenizer=tiny_tokenizer, verbose=False)


def test_the_samples_compare_prompts_warn_with_your_corpus(tmp_path):
    from lib.settings import sample

    own = make_cfg(tmp_path, corpus=str(tmp_path / "mine"))
    with pytest.warns(UserWarning, match=r"compare_prompts: .* write your own questions, one per line"):
        sample.warn(own, "compare_prompts")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample.warn(make_cfg(tmp_path), "compare_prompts")  # the sample itself: no warning
        sample.warn(own.replace(compare_prompts=str(tmp_path / "q.txt")), "compare_prompts")


# --- the worked example in docs/corpus.md ----------------------------------------------------------------

def walkthrough_example() -> dict:
    """The flags of the worked example in docs/corpus.md's walkthrough (its `prepare --dry-run` line)."""
    text = (ROOT / "docs" / "corpus.md").read_text()
    section = text[text.index("## Your own corpus, step by step"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    command = re.search(r"python -m lib prepare --dry-run (.+)", block)
    assert command, "the walkthrough shows its prepare --dry-run command"
    flags = dict(re.findall(r"--(\w+) ('[^']*'|\S+)", command.group(1)))
    return {k: v.strip("'") for k, v in flags.items()}


@needs_shared
def test_the_walkthrough_pattern_splits_the_chesterton_book_into_its_essays():
    from lib.data import preview

    flags = walkthrough_example()
    assert flags["corpus"] == "../shared/corpora/chesterton/11505.txt"
    cfg = config.load_config(ROOT / "config.yaml", corpus=str(ROOT / flags["corpus"]),
                             split_pattern=flags["split_pattern"], strip_gutenberg=flags["strip_gutenberg"])
    docs = corpus.from_config(cfg, verbose=False)
    titles = [d.title for d in docs]
    assert len(docs) == 35, titles       # the CONTENTS lists 36; the e-text lacks the last essay
    assert titles[0] == "The Case for the Ephemeral" and titles[-1] == "Christmas"
    assert 'The "Eatanswill Gazette."' in titles and "Edward VII. and Scotland" in titles
    lines = (ROOT / flags["corpus"]).read_text().replace("\r\n", "\n").split("\n")
    assert lines[docs[2].line - 1] == "THE FALLACY OF SUCCESS" and docs[2].line > 120, "its line in the file"
    assert not [r for r in preview.rows(docs) if r["looks like"]], "no document looks wrong"
    report = docs.file_reports[0]
    assert report["contents_entries"] == 36 and report["gutenberg_licence_chars"] > 10_000
    cleaned, _ = cleaning.clean_corpus(docs)
    assert all(len(d.text) > 3000 for d in cleaned)
    assert cleaned[0].text.startswith("I cannot understand the people who take literature seriously")
    # what docs/corpus.md says of the same pattern without strip_gutenberg: the furniture shows up, flagged
    unstripped = corpus.from_config(cfg.replace(strip_gutenberg=False), verbose=False)
    flagged = [r["document"] for r in preview.rows(unstripped) if r["looks like"]]
    assert any("contents" in name for name in flagged) and any("license" in name for name in flagged), flagged


@needs_shared
def test_the_schopenhauer_pattern_from_the_tests_still_holds():
    docs = corpus.load_corpus(SHARED_CORPORA / "schopenhauer", split_pattern=r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$",
                              strip_gutenberg=True, drop_sections=r"(?i)translator|prefatory|^note", verbose=False)
    assert {"10714-on-style.txt", "10732-on-noise.txt"} <= {d.name for d in docs}
    assert not any(d.text.startswith(d.heading) for d in docs)
    json.dumps(docs.file_reports)  # reports are plain data, written into the manifest


@pytest.mark.slow
def test_01_data_on_your_own_book_shows_the_split_and_records_what_the_file_lost(tmp_path, monkeypatch):
    import nbformat

    from lib.runtime import runner

    monkeypatch.setenv("P4_OUTPUTS", str(tmp_path / "outputs"))
    out = runner.run_notebooks({"model": "tiny", "max_seq_length": 256, "corpus": str(book(tmp_path / "book.txt")),
                                "split_pattern": HEADINGS, "strip_gutenberg": True, "qa_file": "null",
                                "val_fraction": 0.34, "processed_dir": str(tmp_path / "p"), "run_name": "own"},
                               ["01_data"])
    nb = nbformat.read(out / "01_data.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("preview.table("))
    shown = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in cell.outputs)
    assert "On Surrogates" in shown and "dropped from" in shown and "index at the end" in shown
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["removed_from_files"][0]["contents_entries"] == 3
    assert manifest["config"]["qa_file"] is None and "researcher" not in manifest["pairs_by_source"]
