"""Cutting one long text (a book, an export) into sections at heading lines, as a person would.

A heading is a whole line matching `split_pattern`. Each section runs from its heading to the next; the
heading itself is kept apart (the document's title), not left in the text. What a plain cut gets wrong is
handled here and counted, so the preview can show it:
- an epigraph set *before* its heading (a quotation or verse, of one stanza or several, after a wide gap at
  the end of the previous section, or before the first heading) goes with the section it introduces;
- a heading with almost nothing under it ("CHAPTER I." before "ON SILENCE.") joins the next one (what
  little stood under it is counted as dropped);
- an index or the publisher's adverts at the end of the last section are cut off, and a section whose own
  heading says it is one (INDEX, ADVERTISEMENTS) is dropped;
- a matching line that reads like running text (a salutation "DEAR FRIEND," inside a letter) is flagged;
- a pattern that backtracks catastrophically is stopped after a second or so of its own work (the `regex`
  engine's time limit), not left to run for minutes.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

import regex

from . import gutenberg

WIDE_GAP = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")       # two or more blank lines
ATTRIBUTION = re.compile(r"^(?:\u2014|\u2015|--|-)\s*\S")  # "-- Emerson", "— PATRICK HENRY."
EPIGRAPH_CHARS, EPIGRAPH_LINES = 2500, 40                  # several stanzas, never a page of prose
SECONDS, SECONDS_PER_MB = 1.0, 0.2                         # the pattern's own (CPU) time on one file
RUNNING_TEXT_END = (",", ";", ":")                         # "DEAR FRIEND," "WHEREAS:" end no heading
FOOTNOTE_MARKS = re.compile(r"(?<=\S)[ \t]?(?:\[(?:\d{1,3}|[*a-z\u2020\u2021])\]|\^\d{1,3})"
                            r"|[\u00b9\u00b2\u00b3\u2070\u2074-\u2079]+|[ \t]*[*\u2020\u2021\u00a7]+[ \t]*$")


class SlowPattern(ValueError):
    """`split_pattern` or `drop_sections` ran out of time (catastrophic backtracking) on a line."""

    def __init__(self, line: int, text: str, seconds: float):
        super().__init__(f"line {line}")
        self.line, self.text, self.seconds = line, text, seconds


@dataclass
class Section:
    heading: str        # the heading line(s), joined ("CHAPTER I. ON SILENCE.")
    body: str
    line: int           # line number of the first heading line in the text (1-based)
    first: str = ""     # that first heading line
    suspect: str = ""   # why its heading may be a line of running text, not a heading (else empty)


def compile_pattern(pattern: str, flags: int = 0) -> regex.Pattern:
    """A heading pattern in the `regex` engine (the `re` syntax, plus a time limit on matching)."""
    return regex.compile(pattern, flags | regex.M)


def time_limit(text: str) -> float:
    """Seconds of matching a pattern may take on `text`: far above what a sane pattern needs (milliseconds
    per MB), far below the minutes a backtracking one takes."""
    return SECONDS + SECONDS_PER_MB * len(text) / 1e6


def heading_lines(text: str, heading: regex.Pattern) -> list[regex.Match]:
    """Matches of `heading` that are whole, non-empty lines; `SlowPattern` names the line it got stuck on."""
    def whole(m: regex.Match) -> bool:
        start_ok = m.start() == 0 or text[m.start() - 1] == "\n"
        end_ok = m.end() == len(text) or text[m.end()] == "\n"
        return start_ok and end_ok and bool(m.group(0).strip())

    found: list[regex.Match] = []
    reached = 0
    try:
        for m in heading.finditer(text, timeout=time_limit(text)):
            reached = m.end()
            if whole(m):
                found.append(m)
    except TimeoutError:
        raise slowest_line(text, heading, text.rfind("\n", 0, reached) + 1, time_limit(text)) from None
    return found


def slowest_line(text: str, heading: regex.Pattern, start: int, seconds: float) -> SlowPattern:
    """The line after `start` that the pattern cannot get through quickly (or the slowest, to name one)."""
    import time

    slowest, line_no = (-1.0, 0, ""), text.count("\n", 0, start) + 1
    until = time.process_time() + SECONDS
    for line in text[start:].split("\n"):
        began = time.process_time()
        try:
            heading.match(line, timeout=SECONDS / 4)
        except TimeoutError:
            return SlowPattern(line_no, line, seconds)
        slowest = max(slowest, (time.process_time() - began, line_no, line))
        line_no += 1
        if began > until:
            break
    return SlowPattern(slowest[1], slowest[2], seconds)


def plain_heading(heading: str) -> str:
    """A heading without footnote markers (`THE WILL TO BELIEVE.[1]`, `ON NOISE*`, `FATE\u00b9`) or control
    characters: a title, a question's wording and a document's name never carry them."""
    return FOOTNOTE_MARKS.sub("", re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", heading).strip()).strip()


def sections(text: str, heading: regex.Pattern, min_chars: int = 200) -> tuple[list[Section], Counter]:
    """The sections of `text` (line endings already `\\n`) and counts of what was moved or removed."""
    counts: Counter = Counter()
    starts = heading_lines(text, heading)
    if not starts:
        return [], counts
    front = text[: starts[0].start()]
    bodies = [text[m.end(): (starts[i + 1].start() if i + 1 < len(starts) else len(text))]
              for i, m in enumerate(starts)]
    opening = epigraph_tail(front, strict=True, alone=True)  # the first section's epigraph
    if opening:
        front = front[: len(front) - len(opening)]
        bodies[0] = opening.strip("\n") + "\n\n" + bodies[0].lstrip("\n")
        counts["epigraphs_moved"] += 1
    counts["front_matter_chars"] += len(front.strip())
    for i in range(len(bodies) - 1):
        tail = epigraph_tail(bodies[i])
        if tail:
            bodies[i] = bodies[i][: len(bodies[i]) - len(tail)]
            bodies[i + 1] = tail.strip("\n") + "\n\n" + bodies[i + 1].lstrip("\n")
            counts["epigraphs_moved"] += 1
    bodies[-1], back = gutenberg.cut_back_matter(bodies[-1], after=0.0)
    counts.update(back)
    suspects = running_text(text, starts, bodies, min_chars)
    out: list[Section] = []
    pending, pending_line, first, suspect = "", 0, "", ""
    for i, (m, body) in enumerate(zip(starts, bodies)):
        title = " ".join(filter(None, [pending, m.group(0).strip()]))
        line = pending_line or text.count("\n", 0, m.start()) + 1
        first = first or m.group(0).strip()
        suspect = suspect or suspects.get(i, "")
        body = body.strip("\n")
        if len(body.strip()) < min_chars and i + 1 < len(starts):
            pending, pending_line = title, line
            counts["short_section_chars"] += len(body.strip())
            continue
        pending, pending_line, line_text, first = "", 0, first, ""
        if is_back_matter(m.group(0), body):
            counts["index_chars" if gutenberg.INDEX.match(m.group(0)) else "adverts_chars"] += len(body)
            suspect = ""
            continue
        out.append(Section(title, body, line, line_text, suspect))
        suspect = ""
    return out, counts


def running_text(text: str, starts: list[regex.Match], bodies: list[str], min_chars: int) -> dict[int, str]:
    """Headings (by index) that read like a line of running text, and why: ending in "," ";" or ":" (a
    salutation, a clause), or set closer to the text around it than the other headings are while the cut
    leaves a piece far shorter than the rest. Such a line is flagged, never silently taken for a heading.
    A line with (almost) nothing under it, or right under another heading, is part of a heading of
    several lines ("CHAPTER III." over "PROPERTY, OR WHAT A MAN HAS."), not running text."""
    if len(starts) < 2:
        return {}
    sizes = [len(b.strip()) for b in bodies]
    median = statistics.median(sizes)
    gaps = [blank_lines_before(text, m.start()) for m in starts]
    usual = statistics.median(gaps[1:])
    out = {}
    for i in range(1, len(starts)):
        line, before = starts[i].group(0).strip(), short(readable_title(starts[i - 1].group(0)))
        shortest = min(sizes[i - 1], sizes[i])
        if sizes[i - 1] < min_chars or sizes[i] < min_chars:
            continue
        if line.endswith(RUNNING_TEXT_END):
            why = f"it ends in '{line[-1]}'"
        elif usual >= 2 and gaps[i] < usual and shortest < median / 3:
            why = f"{gaps[i]} blank line(s) before it where the other headings have {usual:g}"
        else:
            continue
        out[i] = (f"{why}; it cut '{before}' at {sizes[i - 1]:,} characters and leaves {sizes[i]:,} under it "
                  f"(median section {median:,.0f})")
    return out


def short(text: str, n: int = 60) -> str:
    """A heading for a one-line message: its first `n` characters on one line."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def blank_lines_before(text: str, start: int) -> int:
    """How many blank lines stand right before the line at `start`."""
    n, at = 0, start - 1
    while at > 0:
        previous = text.rfind("\n", 0, at)
        if text[previous + 1: at].strip():
            break
        n, at = n + 1, previous
    return n


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


def epigraph_tail(body: str, strict: bool = False, alone: bool = False) -> str:
    """The end of a text that belongs to the section after it: quotations or verse (one stanza or several)
    after a wide gap, with text before the gap (`alone`: or the whole text, for what stands before the first
    heading). The longest such tail wins, so a poem of three stanzas moves whole. `strict` (before the first
    heading, where a title page stands) takes only what is quoted, attributed or reads as verse."""
    stripped = body.rstrip()
    near, text_from = len(stripped) - EPIGRAPH_CHARS - 200, len(stripped) - len(stripped.lstrip())
    starts = [gap.end() for gap in WIDE_GAP.finditer(stripped, max(0, near)) if text_from < gap.start()]
    if alone and stripped.strip() and len(stripped.strip()) <= EPIGRAPH_CHARS:
        starts.insert(0, len(body) - len(body.lstrip("\n")))
    for start in starts:
        tail = body[start:]
        if looks_like_epigraph(tail, strict):
            return tail
    return ""


def looks_like_epigraph(text: str, strict: bool = False) -> bool:
    """Short (at most a few stanzas), and every paragraph quoted, attributed ("-- Author"), verse or (unless
    `strict`) indented throughout."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines or len(text.strip()) > EPIGRAPH_CHARS or len(lines) > EPIGRAPH_LINES:
        return False
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    return all(epigraph_paragraph(p, strict) for p in paragraphs)


def epigraph_paragraph(paragraph: str, strict: bool = False) -> bool:
    lines = [line for line in paragraph.split("\n") if line.strip()]
    first, last = lines[0].strip(), lines[-1].strip()
    quoted = first[0] in "\"'\u201c\u2018_"
    attributed = bool(ATTRIBUTION.match(last)) and (len(lines) > 1 or not last.startswith("- ") and len(last) <= 80)
    indented = all(line.startswith(("  ", "\t")) for line in lines) and not strict
    return quoted or attributed or indented or is_verse(lines)


def is_verse(lines: list[str]) -> bool:
    """Two or more short lines, each opening with a capital, mostly in lower case and mostly ending in
    punctuation ("There is no great and no small / To the Soul that maketh all:"): not wrapped prose, whose
    lines open mid-sentence, and not a title page, whose lines are capitals without punctuation."""
    lines = [line.strip() for line in lines]
    if len(lines) < 2 or any(len(line) > 60 for line in lines):
        return False
    capital = sum(line[0].isupper() or line[0] in "\"'\u201c\u2018" for line in lines)
    lower = sum(bool(re.search(r"[a-z]", line)) for line in lines)
    punctuated = sum(line.endswith((",", ";", ":", ".", "!", "?", "'", '"', "\u201d", "\u2019")) for line in lines)
    return capital == len(lines) and lower * 2 > len(lines) and punctuated * 2 >= len(lines)


def is_back_matter(heading: str, body: str) -> bool:
    """A section whose heading says it is an index or adverts, and whose body reads like a list."""
    marked = gutenberg.INDEX.match(heading) or gutenberg.ADVERTS.match(heading)
    return bool(marked) and gutenberg.reads_like_a_list(body)


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", plain_heading(title).lower()).strip("-")[:60] or "section"


SMALL_WORDS = set("a an and as at but by for from in into nor of on or the to with".split())
ROMAN = re.compile(r"^M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})\.?,?$")


def readable_title(heading: str) -> str:
    """An ALL-CAPS heading in title case ("THE CASE FOR THE EPHEMERAL" -> "The Case for the Ephemeral");
    roman numerals keep their capitals; other headings are kept as written; footnote markers go."""
    heading = plain_heading(heading).rstrip(".").strip()
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
