"""Cutting one long text (a book, an export) into sections at heading lines, as a person would.

A heading is a whole line matching `split_pattern`. Each section runs from its heading to the next; the
heading itself is kept apart (the document's title), not left in the text. Three things a plain cut gets
wrong are handled here and counted, so the preview can show them:
- an epigraph set *before* its heading (a short quotation after a wide gap at the end of the previous
  section) goes with the section it introduces;
- a heading with almost nothing under it ("CHAPTER I." before "ON SILENCE.") joins the next one (what
  little stood under it is counted as dropped);
- an index or the publisher's adverts at the end of the last section are cut off, and a section whose own
  heading says it is one (INDEX, ADVERTISEMENTS) is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from . import gutenberg

WIDE_GAP = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")       # two or more blank lines
ATTRIBUTION = re.compile(r"^(?:\u2014|\u2015|--|-)\s*\S")  # "-- Emerson", "— PATRICK HENRY."


@dataclass
class Section:
    heading: str        # the heading line(s), joined ("CHAPTER I. ON SILENCE.")
    body: str
    line: int           # line number of the first heading line in the text (1-based)
    first: str = ""     # that first heading line


def heading_lines(text: str, heading: re.Pattern) -> list[re.Match]:
    """Matches of `heading` that are whole, non-empty lines."""
    def whole(m: re.Match) -> bool:
        start_ok = m.start() == 0 or text[m.start() - 1] == "\n"
        end_ok = m.end() == len(text) or text[m.end()] == "\n"
        return start_ok and end_ok and bool(m.group(0).strip())

    return [m for m in heading.finditer(text) if whole(m)]


def sections(text: str, heading: re.Pattern, min_chars: int = 200) -> tuple[list[Section], Counter]:
    """The sections of `text` (line endings already `\\n`) and counts of what was moved or removed."""
    counts: Counter = Counter()
    starts = heading_lines(text, heading)
    if not starts:
        return [], counts
    counts["front_matter_chars"] += len(text[: starts[0].start()].strip())
    bodies = [text[m.end(): (starts[i + 1].start() if i + 1 < len(starts) else len(text))]
              for i, m in enumerate(starts)]
    for i in range(len(bodies) - 1):
        tail = epigraph_tail(bodies[i])
        if tail:
            bodies[i] = bodies[i][: len(bodies[i]) - len(tail)]
            bodies[i + 1] = tail.strip("\n") + "\n\n" + bodies[i + 1].lstrip("\n")
            counts["epigraphs_moved"] += 1
    bodies[-1], back = gutenberg.cut_back_matter(bodies[-1], after=0.0)
    counts.update(back)
    out: list[Section] = []
    pending, pending_line, first = "", 0, ""
    for i, (m, body) in enumerate(zip(starts, bodies)):
        title = " ".join(filter(None, [pending, m.group(0).strip()]))
        line = pending_line or text.count("\n", 0, m.start()) + 1
        first = first or m.group(0).strip()
        body = body.strip("\n")
        if len(body.strip()) < min_chars and i + 1 < len(starts):
            pending, pending_line = title, line
            counts["short_section_chars"] += len(body.strip())
            continue
        pending, pending_line, line_text, first = "", 0, first, ""
        if is_back_matter(m.group(0), body):
            counts["index_chars" if gutenberg.INDEX.match(m.group(0)) else "adverts_chars"] += len(body)
            continue
        out.append(Section(title, body, line, line_text))
    return out, counts


def lines_in(original: str, found: list[Section]) -> list[int]:
    """Each section's heading line in the original file (before Gutenberg's furniture was taken out):
    the first line, after the previous heading's, that reads as the heading's first line and is followed
    by the section's own first line within a few lines (a CONTENTS entry is not; an epigraph moved to the
    section stands just before its heading)."""
    lines = [line.strip() for line in original.replace("\r\n", "\n").split("\n")]
    out, at = [], 0
    for section in found:
        opening = next((line.strip() for line in section.body.split("\n") if line.strip()), "")
        hit = next((i for i in range(at, len(lines)) if lines[i] == section.first
                    and (not opening or opening in lines[max(0, i - 16):i + 16])), None)
        out.append(hit + 1 if hit is not None else section.line)
        at = hit + 1 if hit is not None else at
    return out


def epigraph_tail(body: str) -> str:
    """The end of a section that belongs to the next one: a short quotation after a wide gap."""
    stripped = body.rstrip()
    gaps = list(WIDE_GAP.finditer(stripped))
    if not gaps or not stripped[: gaps[-1].start()].strip():
        return ""
    tail = body[gaps[-1].end():]
    return tail if looks_like_epigraph(tail) else ""


def looks_like_epigraph(text: str) -> bool:
    """Short, and quoted, attributed ("-- Author") or indented throughout."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines or len(text.strip()) > 600 or len(lines) > 10:
        return False
    first, last = lines[0].strip(), lines[-1].strip()
    quoted = first[0] in "\"'\u201c\u2018_"
    attributed = len(lines) > 1 and bool(ATTRIBUTION.match(last))
    indented = all(line.startswith(("  ", "\t")) for line in lines)
    return quoted or attributed or indented


def is_back_matter(heading: str, body: str) -> bool:
    """A section whose heading says it is an index or adverts, and whose body reads like a list."""
    marked = gutenberg.INDEX.match(heading) or gutenberg.ADVERTS.match(heading)
    return bool(marked) and gutenberg.reads_like_a_list(body)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "section"


SMALL_WORDS = set("a an and as at but by for from in into nor of on or the to with".split())
ROMAN = re.compile(r"^M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})\.?,?$")


def readable_title(heading: str) -> str:
    """An ALL-CAPS heading in title case ("THE CASE FOR THE EPHEMERAL" -> "The Case for the Ephemeral");
    roman numerals keep their capitals; other headings are kept as written."""
    heading = heading.strip().rstrip(".").strip()
    if not heading.isupper():
        return heading
    words = heading.split()
    out = []
    for i, word in enumerate(words):
        lower = word.lower()
        if ROMAN.match(word) and lower.rstrip(".,") not in ("i", "mix"):
            out.append(word)
        elif i and lower in SMALL_WORDS and not (words[i - 1].endswith(":") or
                                                 words[i - 1].endswith(".") and lower not in ("and", "or", "nor", "but")):
            out.append(lower)
        else:
            out.append(re.sub(r"[a-z]", lambda m: m.group(0).upper(), lower, count=1))
    return " ".join(out)
