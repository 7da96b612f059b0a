"""Reading the author's writings into documents: one concatenated file, a folder, or one long file.

Formats
- `complete_corpus.txt`: documents one after another, each opened by a marker line
  `=== DOCUMENT: [Category] file_name.txt ===` (see README). Nothing may stand before the first marker.
- A folder of `.txt .md .tex .docx .pdf` files; a file's category is the name of its sub-folder
  (files at the top take the folder's own name).
- One long file (or each file of a folder) cut into documents at heading lines matching `split_pattern`.

Bad input stops with a `CorpusError` whose one-line message names the file and the problem.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .. import storage

MARKER = re.compile(r"^=== DOCUMENT: \[(?P<category>[^\]\n]+)\] (?P<name>[^\n]+?) ===[ \t]*$", re.M)
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
    removed: Counter = field(default_factory=Counter)  # what loading already removed (boilerplate)

    @property
    def title(self) -> str:
        """The first line when it reads like a title, else the file name made readable."""
        first = self.text.strip().split("\n", 1)[0].strip()
        if 0 < len(first) <= 100 and not first.endswith((".", ",", ";", ":")) or first.isupper():
            return first.rstrip(".").strip()
        return Path(self.name).stem.replace("_", " ").replace("-", " ").strip().capitalize()


# --- entry point ------------------------------------------------------------------------------------

def load_corpus(path: str | Path, split_pattern: str | None = None, drop_sections: str | None = None,
                strip_gutenberg: bool = False, verbose: bool = True) -> list[Document]:
    """Read a corpus file or folder into documents; print the seed study's summary lines."""
    path = storage.find_input(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    if path.is_dir():
        docs = load_folder(path)
    else:
        docs = load_file(path, category=path.parent.name)
    if strip_gutenberg:
        docs = [_strip_boilerplate(d) for d in docs]
    if split_pattern:
        docs = [part for d in docs for part in split_by_headings(d, split_pattern, drop_sections)]
    docs = drop_empty(docs)
    if not docs:
        raise CorpusError(f"{path}: no documents found (an empty corpus)")
    check_unique(docs)
    if verbose:
        print(summary(docs))
    return docs


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
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
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
        docs.append(Document(name=name, category=m["category"].strip(), text=text[m.end():end].strip("\n"),
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

def split_by_headings(doc: Document, pattern: str, drop_sections: str | None = None,
                      min_chars: int = 200) -> list[Document]:
    """Cut a document at whole lines matching `pattern`; each heading starts a new document.

    Text before the first heading is dropped (title pages, prefaces without a heading); a heading whose
    section is shorter than `min_chars` joins the next one ("CHAPTER I." + "DIVISION OF THE SUBJECT.");
    sections whose heading matches `drop_sections` are dropped. All of it is counted in `removed`.
    """
    try:
        heading = re.compile(pattern, re.M)
        drop = re.compile(drop_sections, re.M) if drop_sections else None
    except re.error as exc:
        raise CorpusError(f"split_pattern/drop_sections: not a valid regular expression ({exc})") from None
    text = doc.text.replace("\r\n", "\n")
    starts = [m for m in heading.finditer(text) if _whole_line(text, m)]
    if not starts:
        warnings.warn(f"{doc.source}: no line matches split_pattern; kept as one document", stacklevel=3)
        return [doc]
    sections, pending = [], ""
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        title = " ".join(filter(None, [pending, m.group(0).strip()]))
        body = text[m.end():end].strip()
        if len(body) < min_chars and i + 1 < len(starts):
            pending = title
            continue
        pending = ""
        sections.append((title, body))
    removed = Counter(doc.removed)
    removed["front_matter_chars"] += len(text[: starts[0].start()].strip())
    stem = Path(doc.name).stem
    docs, used = [], Counter()
    for title, body in sections:
        if drop and drop.search(title):
            removed["dropped_sections"] += 1
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "section"
        used[slug] += 1
        name = f"{stem}-{slug}" + (f"-{used[slug]}" if used[slug] > 1 else "") + ".txt"
        docs.append(Document(name=name, category=doc.category, text=f"{title}\n\n{body}",
                             source=f"{doc.source}#{title}", kind=doc.kind, removed=Counter()))
    if docs:  # what the split removed is reported once, with the first piece of the file
        docs[0].removed.update(removed)
    return docs


def _whole_line(text: str, m: re.Match) -> bool:
    start_ok = m.start() == 0 or text[m.start() - 1] == "\n"
    end_ok = m.end() == len(text) or text[m.end()] == "\n"
    return start_ok and end_ok and bool(m.group(0).strip())


# --- Project Gutenberg boilerplate --------------------------------------------------------------------

START = re.compile(r"\*{3}\s*START OF (?:THIS|THE) PROJECT GUTENBERG[^*]*\*{3}[^\n]*\n", re.I)
END = re.compile(r"\*{3}\s*END OF (?:THIS|THE) PROJECT GUTENBERG|^[ \t]*End of (?:the |this )?Project Gutenberg",
                 re.I | re.M)
CREDITS = re.compile(r"^(?:Produced by|E-text prepared by|This e-?text was|Transcriber's note)", re.I)
CONTENTS = re.compile(r"^\s*(?:TABLE OF )?CONTENTS\.?\s*$", re.M | re.I)


def _strip_boilerplate(doc: Document) -> Document:
    text, counts = strip_gutenberg(doc.text)
    removed = Counter(doc.removed)
    removed.update(counts)
    return Document(doc.name, doc.category, text, doc.source, doc.kind, removed)


def strip_gutenberg(text: str) -> tuple[str, Counter]:
    """Remove the Gutenberg header and licence, producer credits, the title page and CONTENTS list."""
    counts: Counter = Counter()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if m := START.search(text):
        counts["gutenberg_header_chars"] += m.end()
        text = text[m.end():]
    if m := END.search(text):
        counts["gutenberg_licence_chars"] += len(text) - m.start()
        text = text[: m.start()]
    paragraphs = text.strip("\n").split("\n\n")
    head = 0
    while head < min(len(paragraphs), 8):  # credits sit among the first few paragraphs
        if CREDITS.match(paragraphs[head].strip()):
            counts["credit_lines"] += 1
            paragraphs.pop(head)
        else:
            head += 1
    text = "\n\n".join(paragraphs)
    text, contents = strip_contents(text)
    counts.update(contents)
    return text.strip("\n") + "\n", counts


def strip_contents(text: str) -> tuple[str, Counter]:
    """Remove a CONTENTS list (and a short title page before it).

    The list runs from the CONTENTS line over short lines until prose starts or a listed title comes
    back as a heading; that heading is kept, since it opens the first real section.
    """
    counts: Counter = Counter()
    m = CONTENTS.search(text)
    if not m or m.start() > len(text) // 3:
        return text, counts
    lines = text[m.end():].split("\n")
    entries: set[str] = set()
    stop = len(lines)
    for i, line in enumerate(lines):
        key = _title_key(line)
        if not key:
            continue
        prose = len(line.strip()) > 70 or (re.search(r"[a-z]", line) and line.rstrip().endswith((".", ",")))
        if prose or key in entries:
            stop = i
            break
        entries.add(key)
    counts["contents_entries"] += len(entries)
    title_page = text[: m.start()]
    keep_title_page = len(title_page) > 3000
    if not keep_title_page:
        counts["title_page_chars"] += len(title_page.strip())
    rest = "\n".join(lines[stop:])
    return (title_page if keep_title_page else "") + rest, counts


def _title_key(line: str) -> str:
    return re.sub(r"[^A-Z0-9 ]", "", line.upper().replace("--", " ")).strip()
