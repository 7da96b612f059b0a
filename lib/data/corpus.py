"""Reading the author's writings into documents: one concatenated file, a folder, or one long file.

Formats
- `complete_corpus.txt`: documents one after another, each opened by a marker line
  `=== DOCUMENT: [Category] file_name.txt ===` (docs/corpus.md). Nothing may stand before the first marker.
- A folder of `.txt .md .tex .docx .pdf` files; a file's category is the name of its sub-folder
  (files at the top take the folder's own name).
- One long file (or each file of a folder) cut into documents at heading lines matching `split_pattern`.

Bad input stops with a `CorpusError` whose one-line message names the file and the problem. What was
removed from a file as a whole (a licence, a title page, text before the first heading, an index) is
reported per file (`Corpus.file_reports`), not charged to the document that happened to come first.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import storage
from . import headings, pdf
from .gutenberg import strip_gutenberg  # noqa: F401  (part of this module's interface)

# a marker line; Windows (CRLF) line endings are read as they come
MARKER = re.compile(r"^=== DOCUMENT: \[(?P<category>[^\]\n]+)\] (?P<name>[^\n]+?) ===[ \t]*\r?$", re.M)
MARKER_LIKE = re.compile(r"^[ \t]*={2,}[ \t]*DOCUMENT\b[^\n]*$", re.M | re.I)
SUPPORTED = (".txt", ".md", ".tex", ".docx", ".pdf")


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

    @property
    def title(self) -> str:
        """Its heading, else the first line when it reads like a title, else the file name made readable."""
        if self.heading:
            return headings.readable_title(self.heading)
        first = self.text.strip().split("\n", 1)[0].strip()
        if 0 < len(first) <= 100 and not first.endswith((".", ",", ";", ":")) or first.isupper():
            return first.rstrip(".").strip()
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
        raise CorpusError(f"{path}: no such file or folder")
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
        line = text.count("\n", 0, m.start()) + 1
        raise CorpusError(f"{path}: line {line} looks like a document marker but is not one; write markers as "
                          "'=== DOCUMENT: [Category] file_name.txt ===' on a line of their own")
    return [Document(name=path.name, category=category, text=text, source=str(path), kind=kind)]


def check_extension(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise CorpusError(f"{path}: unsupported file type '{suffix or '(none)'}' "
                          f"(supported: {' '.join(SUPPORTED)})")
    return suffix[1:]


def read_text(path: Path) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is an error naming the offset."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); re-save it as UTF-8") from None


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
    before = text[: matches[0].start()]
    if before.strip():
        line = before[: len(before) - len(before.lstrip())].count("\n") + 1
        raise CorpusError(f"{path}: text before the first '=== DOCUMENT: [Category] name ===' marker "
                          f"(line {line})")
    docs = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = m["name"].strip()
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
    heading matches `drop_sections` are dropped; see `headings` for epigraphs, short headings and back
    matter. What the split removed from the file is added to `counts` (the file's report).
    """
    try:
        heading = re.compile(pattern, re.M)
        drop = re.compile(drop_sections, re.M) if drop_sections else None
    except re.error as exc:
        raise CorpusError(f"split_pattern/drop_sections: not a valid regular expression ({exc})") from None
    text = doc.text.replace("\r\n", "\n")
    found, moved = headings.sections(text, heading, min_chars)
    if not found:
        warnings.warn(f"{doc.source}: no line matches split_pattern; kept as one document", stacklevel=3)
        return [doc]
    counts = counts if counts is not None else Counter()
    counts.update(moved)
    lines = headings.lines_in(original, found) if original is not None else [s.line for s in found]
    docs, used = [], Counter()
    for section, line in zip(found, lines):
        if drop and drop.search(section.heading):
            counts["dropped_sections"] += 1
            counts["dropped_section_chars"] += len(section.body)
            continue
        slug = headings.slug(section.heading)
        used[slug] += 1
        name = f"{Path(doc.name).stem}-{slug}" + (f"-{used[slug]}" if used[slug] > 1 else "") + ".txt"
        docs.append(Document(name=name, category=doc.category, text=section.body,
                             source=f"{doc.source}#{section.heading}", kind=doc.kind, heading=section.heading,
                             line=line))
    return docs


def _strip_boilerplate(doc: Document, counts: Counter) -> Document:
    text, removed = strip_gutenberg(doc.text)
    counts.update(removed)
    return replace(doc, text=text)
