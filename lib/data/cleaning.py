"""Cleaning: make the author's text plain prose, and say exactly what was taken out of each document.

Each step is a small function returning the new text and how many things it removed or changed, so the
per-document report (characters before and after, counts per kind) is a by-product, not a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import replace

from .corpus import Corpus, Document
from .progress import progress

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))  # zero-width, soft hyphen
SPACES = {ord(c): " " for c in "\u00a0\u2002\u2003\u2009\u202f\u3000"}
ODD_SPACE = re.compile("[" + "".join(map(chr, [*INVISIBLE, *SPACES])) + "]")
SUPERSCRIPTS = "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # NUL, form feed, DEL, C1: never prose


def clean_corpus(docs: list[Document], unwrap_lines: bool = True) -> tuple[list[Document], list[dict]]:
    """Clean every document; return the cleaned documents (with their files' reports, when read as a
    `Corpus`) and one report row per document. A progress bar shows when it takes more than a few seconds."""
    cleaned, reports = [], []
    for doc in progress(docs, "cleaning"):
        new, report = clean_document(doc, unwrap_lines)
        cleaned.append(new)
        reports.append(report)
    return Corpus(cleaned, getattr(docs, "file_reports", [])), reports


def clean_document(doc: Document, unwrap_lines: bool = True) -> tuple[Document, dict]:
    counts = Counter()
    text = doc.text
    steps = [normalise_unicode, normalise_line_endings, remove_control_characters]
    if doc.kind == "tex":
        steps.append(strip_latex)
    if doc.kind == "md":
        steps.append(strip_markdown)
    steps += [remove_footnote_blocks, remove_numbered_footnotes, remove_footnote_markers, remove_page_markers,
              remove_contents_lines, remove_italic_marks, join_hyphenated_words, remove_separator_lines]
    if unwrap_lines:
        steps.append(unwrap)
    steps.append(tidy_whitespace)
    for step in steps:
        text, changed = step(text)
        counts.update({k: v for k, v in changed.items() if v})
    # the document's own characters: what was removed from its file as a whole is the file's report's
    report = {"document": doc.name, "category": doc.category, "chars_before": len(doc.text),
              "chars_after": len(text), **dict(sorted(counts.items()))}
    return replace(doc, text=text), report


def table(reports: list[dict]):
    """The cleaning report as `01_data` and `python -m lib prepare` show it: one row per document, characters
    before and after and how many of each kind of thing were taken out (0 where none)."""
    from ..view import display

    return display.frame(reports, fill=0).set_index("document")


def summarise(report: dict) -> str:
    """One short line for a document table: the kinds removed, most frequent first."""
    skip = {"document", "category", "chars_before", "chars_after"}
    items = sorted(((k, v) for k, v in report.items() if k not in skip and v), key=lambda kv: -kv[1])
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in items) or "nothing"


# --- the steps ----------------------------------------------------------------------------------------

def normalise_unicode(text: str) -> tuple[str, Counter]:
    if unicodedata.is_normalized("NFC", text) and not ODD_SPACE.search(text):  # most text: nothing to do
        return text, Counter(unicode_fixes=0)
    before = text
    text = unicodedata.normalize("NFC", text).translate(INVISIBLE).translate(SPACES)
    changed = sum(a != b for a, b in zip(before, text)) + abs(len(before) - len(text))
    return text, Counter(unicode_fixes=changed if before != text else 0)


def normalise_line_endings(text: str) -> tuple[str, Counter]:
    n = text.count("\r")
    return text.replace("\r\n", "\n").replace("\r", "\n"), Counter(line_endings=n)


def remove_control_characters(text: str) -> tuple[str, Counter]:
    """NUL bytes, form feeds, DEL and the C1 controls (a file saved with stray binary, or text decoded in the
    wrong code page): the model would learn to write them. Tabs and line ends stay."""
    text, breaks = re.subn(r"[\x0b\x0c\x85]", "\n", text)  # vertical tab, form feed, NEL: a line break
    text, n = CONTROL.subn("", text)
    return text, Counter(control_characters=breaks + n)


def remove_footnote_blocks(text: str) -> tuple[str, Counter]:
    """Drop `[Footnote N: ...]` blocks (they may span lines and hold brackets of their own)."""
    out, n, i = [], 0, 0
    for m in re.finditer(r"\[Footnote[^:\]\n]{0,12}:", text):
        if m.start() < i:
            continue
        depth, j = 0, m.start()
        while j < len(text):
            depth += {"[": 1, "]": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        out.append(text[i:m.start()])
        i, n = j, n + 1
    out.append(text[i:])
    return "".join(out), Counter(footnote_blocks=n)


def remove_numbered_footnotes(text: str) -> tuple[str, Counter]:
    """Footnotes gathered at the end of a chapter: paragraphs that open with `[1]`, `[12]` or `[*]`.

    A paragraph is the footnote's whole text, up to the next blank line (e-texts set one note per
    paragraph); the marker in the running text goes with `remove_footnote_markers`.
    """
    text, n = re.subn(r"(?m)^[ \t]*\[(?:\d{1,3}|\*)\][ \t]+\S(?:.*\S)?(?:\n(?![ \t]*\n)[^\n]*)*\n?", "", text)
    return text, Counter(footnote_blocks=n)


def remove_footnote_markers(text: str) -> tuple[str, Counter]:
    """`word[1]`, `word[12]`, `word^3` and superscript digits after a word or punctuation."""
    after = r"(?<=[\w.,;:!?\"')\]])"
    pattern = rf"{after}(?:[ \t]?\[\d{{1,3}}\]|\^\d{{1,3}}|[{SUPERSCRIPTS}]+)"
    text, n = re.subn(pattern, "", text)
    return text, Counter(footnote_markers=n)


def remove_page_markers(text: str) -> tuple[str, Counter]:
    """`{12}`, `{viii}` and `[Pg 12]` anywhere; lines that hold only a page number (`12`, `- 12 -`,
    `Page 12`, or a lower-case roman `xiv` from the front matter)."""
    number = r"(?:\d{1,4}|[ivxlc]{1,7})"
    text, markers = re.subn(rf"[ \t]*(?:\{{{number}\}}|\[(?:Pg|Page|p\.)\s*{number}\])", "", text, flags=re.I)
    text, numbers = re.subn(r"(?m)^[ \t]*(?:-\s*\d{1,4}\s*-|(?:Page|p\.)\s*\d{1,4}|\d{1,4}|[ivxlc]{1,7})[ \t]*$\n?",
                            "", text)
    return text, Counter(page_markers=markers, page_numbers=numbers)


def remove_contents_lines(text: str) -> tuple[str, Counter]:
    """Lines of a table of contents: a title, dot leaders and a page number (`On Noise . . . . 12`)."""
    text, n = re.subn(r"(?m)^[^\n]*\S(?:[ \t]*\.){4,}[ \t]*(?:\d{1,4}|[ivxlcIVXLC]{1,7})?[ \t]*$\n?", "", text)
    return text, Counter(contents_lines=n)


def remove_italic_marks(text: str) -> tuple[str, Counter]:
    """`_word_` and `_a phrase_` (e-text italics) become plain words, and so does part of a word
    (`_un_worthy`, `worth_less_`); `snake_case_name` is not italics and stays."""
    text, n = re.subn(r"(?<![\w_])_(?=\S)((?:(?!\n[ \t]*\n)[^_])+?)(?<=\S)_(?![\w_])", r"\1", text)
    text, prefix = re.subn(r"(?<![\w_])_([A-Za-z]+)_(?=[a-z]+\b)(?![a-z]+_)", r"\1", text)
    text, suffix = re.subn(r"(?<![\w_])([A-Za-z]+)_([a-z]+)_(?![\w_])", r"\1\2", text)
    return text, Counter(italic_marks=n + prefix + suffix)


def join_hyphenated_words(text: str) -> tuple[str, Counter]:
    """`conscious-` at a line end + `ness` on the next line -> `consciousness`.

    A compound the document also writes with a hyphen elsewhere (`self-evident`) keeps its hyphen.
    """
    hyphenated = {m.group(0).lower() for m in re.finditer(r"\b\w+-\w+\b", text)}
    n = 0

    def join(m: re.Match) -> str:
        nonlocal n
        first, second = m.group(1), m.group(2)
        if not second[0].islower():
            return m.group(0)
        n += 1
        if f"{first}-{second}".lower() in hyphenated:
            return f"{first}-{second}"
        return first + second

    text = re.sub(r"(\w+)-[ \t]*\n[ \t]*(\w+)", join, text)
    return text, Counter(hyphenations_joined=n)


def remove_separator_lines(text: str) -> tuple[str, Counter]:
    """Lines of only asterisks, dashes or underscores (section breaks in e-texts)."""
    text, n = re.subn(r"(?m)^[ \t]*(?:[*_=~-][ \t]*){3,}$\n?", "\n", text)
    return text, Counter(separator_lines=n)


def unwrap(text: str) -> tuple[str, Counter]:
    """Join hard-wrapped lines inside a paragraph; list items and indented lines keep their breaks."""
    n = 0
    paragraphs = []
    for para in re.split(r"\n[ \t]*\n", text):
        lines = [line for line in para.split("\n") if line.strip()]
        if not lines:
            continue
        out = [lines[0]]
        for line in lines[1:]:
            if re.match(r"\s*(?:[-*\u2022]|\d+[.)])\s", line) or line.startswith(("    ", "\t")):
                out.append("\n" + line)
            else:
                out.append(" " + line.strip())
                n += 1
        paragraphs.append("".join(out))
    return "\n\n".join(paragraphs), Counter(lines_unwrapped=n)


def tidy_whitespace(text: str) -> tuple[str, Counter]:
    text = text.replace("\t", " ")
    text, spaces = re.subn(r"(?<=\S) {2,}", " ", text)
    text = re.sub(r"(?m)[ \t]+$", "", text)
    text = re.sub(r"(?m)^[ \t]+(?=\S)", "", text)  # e-text paragraph indents
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n", Counter(extra_spaces=spaces)


# --- markup ---------------------------------------------------------------------------------------

LATEX_DROP_ENVS = ("figure", "table", "equation", "align", "tabular", "thebibliography", "tikzpicture",
                   "verbatim", "lstlisting")
LATEX_DROP_ARGS = ("cite", "citep", "citet", "ref", "eqref", "label", "footnote", "includegraphics",
                   "bibliography", "bibliographystyle", "usepackage", "documentclass", "vspace", "hspace",
                   "input", "include", "pageref", "autoref", "url", "newcommand", "renewcommand")


def strip_latex(text: str) -> tuple[str, Counter]:
    """Keep the prose of a .tex file: drop the preamble, comments, floats, citations and commands."""
    counts = Counter()
    if m := re.search(r"\\begin\{document\}", text):
        text = text[m.end():]
        counts["latex_preamble"] += 1
    text = re.split(r"\\end\{document\}", text)[0]
    text, counts["latex_comments"] = re.subn(r"(?<!\\)%[^\n]*", "", text)
    for env in LATEX_DROP_ENVS:
        text, n = re.subn(rf"\\begin\{{{env}\*?\}}.*?\\end\{{{env}\*?\}}", "", text, flags=re.S)
        counts["latex_environments"] += n
    text, n = re.subn(r"\\(?:begin|end)\{[^}]*\}(?:\[[^\]]*\])?", "\n\n", text)
    counts["latex_environments"] += n
    text = re.sub(r"\s*\\item\s*", "\n- ", text)
    text = re.sub(r"\\(?:section|subsection|subsubsection|chapter|paragraph|title)\*?\{([^{}]*)\}",
                  r"\n\n\1\n\n", text)
    text, n = re.subn(rf"[ \t~]*\\(?:{'|'.join(LATEX_DROP_ARGS)})\*?(?:\[[^\]]*\])*(?:\{{[^{{}}]*\}})*", "", text)
    counts["latex_commands"] += n
    for _ in range(3):  # \emph{\textbf{x}}: unwrap from the inside out
        text, n = re.subn(r"\\[a-zA-Z]+\*?(?:\[[^\]]*\])?\{([^{}]*)\}", r"\1", text)
        counts["latex_commands"] += n
    text, n = re.subn(r"\\[a-zA-Z]+\*?", "", text)
    counts["latex_commands"] += n
    text = text.replace("~", " ").replace("\\\\", "\n").replace("``", '"').replace("''", '"')
    text = re.sub(r"\\([%&$#_{}])", r"\1", text)
    text = re.sub(r"(?<!\\)\$([^$]*)\$", r"\1", text).replace("{", "").replace("}", "")
    return text, counts


def strip_markdown(text: str) -> tuple[str, Counter]:
    """Headings, emphasis, links, code fences and HTML comments become plain text."""
    counts = Counter()
    text, counts["markdown_code_blocks"] = re.subn(r"```.*?```", "", text, flags=re.S)
    text, counts["markdown_comments"] = re.subn(r"<!--.*?-->", "", text, flags=re.S)
    text, n1 = re.subn(r"(?m)^#{1,6}\s*", "", text)
    text, n2 = re.subn(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text, n3 = re.subn(r"(\*\*|__)(\S(?:.*?\S)?)\1", r"\2", text)
    text, n4 = re.subn(r"(?<![\w*])\*(?=\S)([^*\n]+)(?<=\S)\*(?![\w*])", r"\1", text)
    counts["markdown_marks"] = n1 + n2 + n3 + n4
    return text, counts
