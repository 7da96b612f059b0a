"""Text from a PDF as the author wrote it: paragraphs kept, running headers and page numbers left out.

pypdf gives each piece of text with its position on the page. Lines are rebuilt from the positions; a
vertical gap clearly wider than the usual line spacing, or an indented first line, starts a paragraph;
a line that opens (or closes) most pages in the same words, up to its numbers, is a running header (or
footer) and is dropped, as is a line holding only a page number. A PDF with no text at all is a scan:
it needs OCR first, and the error says so.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?[-\u2013(]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-\u2013)]?\s*$", re.I)


class NoTextLayer(ValueError):
    """Pages without any text: an image-only (scanned) PDF."""


def extract(path: Path) -> str:
    """The text of a PDF with paragraph breaks as blank lines and without running headers or footers."""
    from pypdf import PdfReader

    pages = [page_lines(page) for page in PdfReader(str(path)).pages]
    if not any(pages):
        raise NoTextLayer(f"{path}: no text in its {len(pages)} page(s), only images (a scan?); run OCR on it "
                          "first (e.g. `ocrmypdf in.pdf out.pdf`) and use the result, or remove it from the corpus")
    repeated = running_lines(pages)
    paragraphs: list[str] = []
    for lines in pages:
        kept = [(y, x, t) for y, x, t in lines if normalise(t) not in repeated and not PAGE_NUMBER.match(t)]
        paragraphs.append(page_text(kept))
    return "\n".join(p for p in paragraphs if p)


def page_lines(page) -> list[tuple[float, float, str]]:
    """(y, x, text) per line of a page, top to bottom, from the positions pypdf reports."""
    pieces: list[tuple[float, float, str]] = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            pieces.append((float(tm[5]) * float(cm[3]) + float(cm[5]), float(tm[4]) + float(cm[4]), text))

    page.extract_text(visitor_text=visit)
    lines: list[list] = []
    for y, x, text in sorted(pieces, key=lambda p: (-round(p[0], 0), p[1])):
        if lines and abs(lines[-1][0] - y) < 2.0:
            lines[-1][2] += text if lines[-1][2].endswith(" ") or text.startswith(" ") else " " + text
        else:
            lines.append([y, x, text])
    return [(y, x, " ".join(t.split())) for y, x, t in lines if t.strip()]


def normalise(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def running_lines(pages: list[list[tuple[float, float, str]]]) -> set[str]:
    """Lines that open or close at least half of the pages (two or more) in the same words: headers, footers."""
    if len(pages) < 2:
        return set()
    ends = Counter()
    for lines in pages:
        for line in {normalise(t) for _, _, t in lines[:2] + lines[-2:]}:
            ends[line] += 1
    return {line for line, n in ends.items() if n >= max(2, len(pages) / 2) and len(line) < 120}


def page_text(lines: list[tuple[float, float, str]]) -> str:
    """Lines joined, with a blank line where the vertical gap or an indent says a paragraph starts."""
    if not lines:
        return ""
    gaps = [a[0] - b[0] for a, b in zip(lines, lines[1:]) if a[0] > b[0]]
    usual = statistics.median(gaps) if gaps else 0.0
    left = min(x for _, x, _ in lines)
    out = [lines[0][2]]
    for (y0, _, _), (y1, x1, text) in zip(lines, lines[1:]):
        wide = usual and (y0 - y1) > 1.4 * usual
        indented = x1 - left > 8 and len(text) > 20
        out.append(("\n\n" if wide or indented else "\n") + text)
    return "".join(out)
