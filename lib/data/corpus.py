"""Reading the author's writings into documents: one concatenated file, a folder, or one long file.

Formats
- `complete_corpus.txt`: documents one after another, each opened by a marker line
  `=== DOCUMENT: [Category] file_name.txt ===` (docs/corpus.md). Nothing may stand before the first marker.
- A folder of `.txt .md .tex .docx .pdf` files; a file's category is the name of its sub-folder
  (files at the top take the folder's own name).
- One long file (or each file of a folder) cut into documents at heading lines matching `split_pattern`.

Text files are UTF-8 (or UTF-16/32 with a byte-order mark); a lone CR (old Mac files) ends a line like LF
and CRLF do. Bad input stops with a `CorpusError` whose one-line message names the file (and the line) and
the problem: a line that looks like a marker but is not one, a file name that is not UTF-8, UTF-16 without
a byte-order mark, a heading pattern that backtracks for ever. What was removed from a file as a whole
(a licence, a title page, text before the first heading, an index) is reported per file
(`Corpus.file_reports`), not charged to the document that happened to come first.
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import regex

from ..files import storage
from . import headings, pdf
from .gutenberg import strip_gutenberg  # noqa: F401  (part of this module's interface)

# a marker line; Windows (CRLF) line endings are read as they come
MARKER = re.compile(r"^=== DOCUMENT: \[(?P<category>[^\]\n]+)\] (?P<name>[^\n]+?) ===[ \t]*\r?$", re.M)
MARKER_LIKE = re.compile(r"^[ \t]*={2,}[ \t]*DOCUMENT\b[^\n]*$", re.M | re.I)
SUPPORTED = (".txt", ".md", ".tex", ".docx", ".pdf")
MARKER_FORM = "'=== DOCUMENT: [Category] file_name.txt ===' on a line of its own"
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))


class CorpusError(ValueError):
    """Input that cannot be turned into documents; the message names the file and the problem."""


@dataclass
class Document:
    name: str
    category: str
    text: str
    source: str                      # the file it came from (and the heading, for split documents)
    kind: str = "txt"                # txt, md, tex, docx or pdf: decides the cleaning steps
    removed: Counter = field(default_factory=Counter)  # empty: what loading removes is its file's report
    heading: str = ""                # the heading it was split at (kept out of the text), if any
    line: int = 0                    # the heading's line in its file
    note: str = ""                   # why its heading may be running text, not a heading (the preview shows it)

    @property
    def title(self) -> str:
        """Its heading, else the first line when it reads like a title, else the file name made readable;
        without footnote markers."""
        if self.heading:
            return headings.readable_title(self.heading)
        first = self.text.strip().split("\n", 1)[0].strip()
        if 0 < len(first) <= 100 and not first.endswith((".", ",", ";", ":")) or first.isupper():
            return headings.plain_heading(first).rstrip(".").strip()
        return Path(self.name).stem.replace("_", " ").replace("-", " ").strip().capitalize()


# --- entry point ------------------------------------------------------------------------------------

class Corpus(list):
    """The documents, plus `file_reports`: per file, what was removed from it as a whole, and why."""

    def __init__(self, docs: list[Document], file_reports: list[dict]):
        super().__init__(docs)
        self.file_reports = file_reports


def load_corpus(path: str | Path, split_pattern: str | None = None, drop_sections: str | None = None,
                strip_gutenberg: bool = False, verbose: bool = True) -> Corpus:
    """Read a corpus file or folder into documents; print the seed study's summary lines."""
    path = storage.find_input(path)
    if not path.exists():
        raise CorpusError(f"{shown(path)}: no such file or folder")
    check_name(path)
    loaded = load_folder(path) if path.is_dir() else load_file(path, category=path.parent.name)
    docs, reports = [], []
    for doc in loaded:
        counts: Counter = Counter()
        chars = len(doc.text)
        original = doc.text
        if strip_gutenberg:
            doc = _strip_boilerplate(doc, counts)
        parts = split_by_headings(doc, split_pattern, drop_sections, counts=counts, original=original) \
            if split_pattern else [doc]
        docs += parts
        if +counts:
            reports.append({"file": doc.source, "chars": chars, **dict(sorted((+counts).items()))})
    docs = drop_empty(docs)
    if not docs:
        raise CorpusError(f"{path}: no documents found (an empty corpus)")
    check_unique(docs)
    if verbose:
        print(summary(docs))
    return Corpus(docs, reports)


def summary(docs: list[Document]) -> str:
    lines = [f"Parsed {len(docs)} documents"]
    lines += [f"  - [{d.category}] {d.name}: {len(d.text)} chars" for d in docs]
    return "\n".join(lines)


def from_config(cfg, verbose: bool = True) -> list[Document]:
    return load_corpus(cfg.corpus, cfg.split_pattern, cfg.drop_sections, cfg.strip_gutenberg, verbose)


# --- one file -----------------------------------------------------------------------------------------

def load_file(path: Path, category: str) -> list[Document]:
    """A concatenated corpus file yields many documents; any other file yields one."""
    kind = check_extension(path)
    text = read_text(path) if kind in ("txt", "md", "tex") else extract_binary(path, kind)
    if kind == "txt" and MARKER.search(text):
        return parse_concatenated(text, path)
    if kind == "txt" and (m := MARKER_LIKE.search(text)):
        raise not_a_marker(path, text, m)
    return [Document(name=path.name, category=category, text=text, source=str(path), kind=kind)]


def shown(path) -> str:
    """A path as printable text: bytes of a name that are not UTF-8 appear as \\xNN."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_name(path: Path) -> None:
    """A file name becomes a document's name in every file written: it must be text."""
    if shown(path) != str(path):
        raise CorpusError(f"{shown(path)}: the file name is not valid UTF-8 (it becomes the document's name); "
                          "rename the file")


def not_a_marker(path: Path, text: str, m: re.Match) -> CorpusError:
    line = text.count("\n", 0, m.start()) + 1
    return CorpusError(f"{path}: line {line} looks like a document marker but is not one "
                       f"({m.group(0).strip()[:80]!r}); write it as {MARKER_FORM}")


def check_extension(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise CorpusError(f"{path}: unsupported file type '{suffix or '(none)'}' "
                          f"(supported: {' '.join(SUPPORTED)})")
    return suffix[1:]


def read_text(path: Path) -> str:
    """UTF-8 text, or UTF-16/32 with a byte-order mark (the mark is dropped); anything else is an error
    naming the offset. A lone CR becomes CRLF, so that it ends a line everywhere CRLF does (and cleaning
    counts it with the other line endings)."""
    data = path.read_bytes()
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), "utf-8-sig")
    if encoding == "utf-8-sig" and looks_like_utf16(data):
        raise CorpusError(f"{path}: UTF-16 text without a byte-order mark (every other byte is 0); re-save it as "
                          "UTF-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()
        raise CorpusError(f"{path}: not valid {name} text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); re-save it as UTF-8") from None
    return re.sub(r"\r(?!\n)", "\r\n", text) if "\r" in text else text


def looks_like_utf16(data: bytes) -> bool:
    """Mostly ASCII text in UTF-16: zeros in nearly every other byte, and hardly any in the rest."""
    head = data[:4096]
    if len(head) < 8:
        return False
    even, odd = head[0::2].count(0) / len(head[0::2]), head[1::2].count(0) / len(head[1::2])
    return max(even, odd) > 0.6 and min(even, odd) < 0.1


def extract_binary(path: Path, kind: str) -> str:
    """Text of a .docx (paragraphs) or .pdf (pages) through their maintained libraries."""
    try:
        if kind == "docx":
            import docx

            return "\n\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        return pdf.extract(path)
    except pdf.NoTextLayer as exc:
        raise CorpusError(str(exc)) from None
    except Exception as exc:  # the libraries raise many types for a damaged file
        raise CorpusError(f"{path}: cannot read as .{kind} ({exc.__class__.__name__}: {exc})") from None


def parse_concatenated(text: str, path: Path) -> list[Document]:
    matches = list(MARKER.finditer(text))
    good = {m.start() for m in matches}
    if wrong := next((m for m in MARKER_LIKE.finditer(text) if m.start() not in good), None):
        raise not_a_marker(path, text, wrong)  # a marker written wrong would merge two documents silently
    before = text[: matches[0].start()]
    if before.strip():
        line = before[: len(before) - len(before.lstrip())].count("\n") + 1
        raise CorpusError(f"{path}: text before the first '=== DOCUMENT: [Category] name ===' marker "
                          f"(line {line})")
    docs = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = m["name"].strip()
        if re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", m.group(0).rstrip("\r")):
            raise CorpusError(f"{path}: line {text.count(chr(10), 0, m.start()) + 1}: the marker holds a control "
                              "character (a NUL byte?); retype the line")
        docs.append(Document(name=name, category=m["category"].strip(), text=text[m.end():end].strip("\r\n"),
                             source=f"{path}#{name}", kind="tex" if name.endswith(".tex") else "txt"))
    return docs


# --- a folder -----------------------------------------------------------------------------------------

def load_folder(root: Path) -> list[Document]:
    """Every supported file below `root`; hidden files are ignored, other extensions are errors."""
    docs = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        check_name(path)
        category = rel.parts[0] if len(rel.parts) > 1 else root.name
        docs.extend(load_file(path, category))
    return docs


# --- checks -----------------------------------------------------------------------------------------

def drop_empty(docs: list[Document]) -> list[Document]:
    kept = []
    for d in docs:
        if d.text.strip():
            kept.append(d)
        else:
            warnings.warn(f"{d.source}: empty document '{d.name}' skipped", stacklevel=3)
    return kept


def check_unique(docs: list[Document]) -> None:
    seen: dict[str, Document] = {}
    for d in docs:
        if d.name in seen:
            raise CorpusError(f"{d.source}: two documents named '{d.name}' (the other is {seen[d.name].source}); "
                              "rename one")
        seen[d.name] = d


# --- one long file into documents ---------------------------------------------------------------------

def split_by_headings(doc: Document, pattern: str, drop_sections: str | None = None, min_chars: int = 200,
                      counts: Counter | None = None, original: str | None = None) -> list[Document]:
    """Cut a document at whole lines matching `pattern`; each heading starts a new document (its title).

    Text before the first heading is dropped (title pages, prefaces without a heading); sections whose
    heading matches `drop_sections` (ignoring case, the heading as the preview shows it or as written) are
    dropped; see `headings` for epigraphs, short headings, back matter and lines of running text. What the
    split removed from the file is added to `counts` (the file's report).
    """
    try:
        heading = headings.compile_pattern(pattern)
        drop = headings.compile_pattern(drop_sections, regex.I) if drop_sections else None
    except regex.error as exc:
        raise CorpusError(f"split_pattern/drop_sections: not a valid regular expression ({exc})") from None
    text = doc.text.replace("\r\n", "\n")
    try:
        found, moved = headings.sections(text, heading, min_chars)
    except headings.SlowPattern as slow:
        raise too_slow(doc, "split_pattern", pattern, slow, original) from None
    if not found:
        warnings.warn(f"{doc.source}: no line matches split_pattern; kept as one document", stacklevel=3)
        return [doc]
    counts = counts if counts is not None else Counter()
    counts.update(moved)
    lines = headings.lines_in(original, found) if original is not None else [s.line for s in found]
    docs, used = [], Counter()
    for section, line in zip(found, lines):
        if drop and dropped(doc, section, line, drop, drop_sections):
            counts["dropped_sections"] += 1
            counts["dropped_section_chars"] += len(section.body)
            continue
        slug = headings.slug(section.heading)
        used[slug] += 1
        name = f"{Path(doc.name).stem}-{slug}" + (f"-{used[slug]}" if used[slug] > 1 else "") + ".txt"
        docs.append(Document(name=name, category=doc.category, text=section.body,
                             source=f"{doc.source}#{section.heading}", kind=doc.kind, heading=section.heading,
                             line=line, note=section.suspect and f"a line of running text? {section.suspect}"))
        if section.suspect:
            warnings.warn(f"{doc.source}: line {line} {headings.short(section.heading)!r} matched split_pattern but "
                          f"may be running text: {section.suspect}; if it is no heading, make split_pattern stricter "
                          "(e.g. end it with [^,;:]$)", stacklevel=3)
    return docs


def dropped(doc: Document, section: headings.Section, line: int, drop: regex.Pattern, pattern: str) -> bool:
    """`drop_sections` matches the heading as the preview shows it, or as the file writes it, in any case."""
    try:
        return any(drop.search(h, timeout=headings.SECONDS) for h in (headings.readable_title(section.heading),
                                                                        section.heading))
    except TimeoutError:
        raise too_slow(doc, "drop_sections", pattern,
                       headings.SlowPattern(line, section.heading, headings.SECONDS), None) from None


def too_slow(doc: Document, key: str, pattern: str, slow: headings.SlowPattern, original: str | None) -> CorpusError:
    """One line for a pattern stopped by its time limit: where, and how to write it instead."""
    line = slow.line
    if original is not None:  # the line in the file, not in the text left after strip_gutenberg
        lines = original.replace("\r\n", "\n").split("\n")
        line = next((i + 1 for i, text in enumerate(lines) if text == slow.text), line)
    return CorpusError(f"{doc.source}: {key} {pattern!r} was stopped after {slow.seconds:.2g} s on line {line} "
                       f"({slow.text.strip()[:60]!r}): it backtracks catastrophically (a repeat of alternatives "
                       "that overlap, like ([A-Z]|[A-Z ,.])+); repeat one set of characters instead, e.g. "
                       "'^[A-Z][A-Z ,.]*$'")


def _strip_boilerplate(doc: Document, counts: Counter) -> Document:
    text, removed = strip_gutenberg(doc.text)
    counts.update(removed)
    return replace(doc, text=text)
