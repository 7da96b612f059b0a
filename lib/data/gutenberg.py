"""Book furniture around an author's text: Project Gutenberg's header and licence, producer credits, the title
page, the CONTENTS list (with or without dot leaders), and at the end an index or the publisher's adverts.

Each function returns the text without it and a count of what it removed, so the data stage can say what
was dropped from each file and why (see `REASONS`), instead of charging it to the first document.
"""

from __future__ import annotations

import re
from collections import Counter

START = re.compile(r"\*{3}\s*START OF (?:THIS|THE) PROJECT GUTENBERG[^*]*\*{3}[^\n]*\n", re.I)
END = re.compile(r"\*{3}\s*END OF (?:THIS|THE) PROJECT GUTENBERG|^[ \t]*End of (?:the |this )?Project Gutenberg",
                 re.I | re.M)
CREDITS = re.compile(r"^(?:Produced by|E-text prepared by|This e-?text was|Transcriber's note)", re.I)
CONTENTS = re.compile(r"^\s*(?:TABLE OF )?CONTENTS\.?\s*$", re.M | re.I)
LEADER = re.compile(r"(?:[ \t]*\.){3,}[ \t]*(?:\d+|[ivxlcdm]+)?[ \t]*$|[ \t]{2,}(?:\d+|[ivxlcdm]+)[ \t]*$", re.I)
INDEX = re.compile(r"^[ \t]*(?:GENERAL )?(?:INDEX|Index)\.?[ \t]*$", re.M)
ADVERTS = re.compile(r"^[ \t]*(?:ADVERTISEMENTS?|(?:OTHER )?(?:BOOKS|WORKS|NOVELS) BY (?:THE SAME AUTHOR|[A-Z .'-]+)|"
                     r"BY THE SAME AUTHOR|NEW (?:AND RECENT )?BOOKS|PUBLISHERS?'? (?:ANNOUNCEMENTS?|LIST)|"
                     r"CATALOGUE OF [A-Z ,.'-]+|NOW READY)[.:]?[ \t]*$", re.M | re.I)

# what each count means, for the preview and the manifest
REASONS = {
    "gutenberg_header_chars": "Project Gutenberg header (strip_gutenberg)",
    "gutenberg_licence_chars": "Project Gutenberg licence (strip_gutenberg)",
    "credit_lines": "producer credits (strip_gutenberg)",
    "title_page_chars": "title page before the CONTENTS list (strip_gutenberg)",
    "contents_entries": "CONTENTS list entries (strip_gutenberg)",
    "contents_blurb_chars": "descriptive blurbs under the CONTENTS entries (strip_gutenberg)",
    "index_chars": "the book's index at the end",
    "adverts_chars": "publisher's adverts at the end",
}


def strip_gutenberg(text: str) -> tuple[str, Counter]:
    """Remove the Gutenberg header and licence, producer credits, the title page and CONTENTS list, and an
    index or adverts at the end."""
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
    text, back = cut_back_matter(text)
    counts.update(back)
    return text.strip("\n") + "\n", counts


def strip_contents(text: str) -> tuple[str, Counter]:
    """Remove a CONTENTS list (and a short title page before it).

    The list runs from the CONTENTS line over short lines until prose starts or a listed title comes
    back as a heading; that heading is kept, since it opens the first real section. Dot leaders and page
    numbers (`ON NOISE . . . . 12`) are part of an entry, not prose; so is a descriptive blurb under an entry
    ("Hypotheses and options--Forced options--...", "Pessimism, 39. The ennui of life, 41."): it goes with
    the list and is counted apart (`contents_blurb_chars`).
    """
    counts: Counter = Counter()
    m = CONTENTS.search(text)
    if not m or m.start() > len(text) // 3:
        return text, counts
    lines = text[m.end():].split("\n")
    stop, entries, blurbs = contents_end(lines)
    counts["contents_entries"] += len(entries)
    counts["contents_blurb_chars"] += blurbs
    title_page = text[: m.start()]
    keep_title_page = len(title_page) > 3000
    if not keep_title_page:
        counts["title_page_chars"] += len(title_page.strip())
    rest = "\n".join(lines[stop:])
    return (title_page if keep_title_page else "") + rest, counts


def contents_end(lines: list[str]) -> tuple[int, set[str], int]:
    """Where the list after a CONTENTS line ends (a line index), its entries, and the characters of blurbs.

    Paragraph by paragraph: lines that read as titles are entries; a paragraph of prose is a blurb when it
    is short, an entry follows it, and it has a blurb's form (topics run together with dashes, page
    numbers, indented lines, "In which ...") or an earlier paragraph had; otherwise the text has begun.
    """
    entries: set[str] = set()
    blurbs, seen_blurb, i = 0, False, 0
    while i < len(lines):
        if not title_key(LEADER.sub("", lines[i])):
            i += 1
            continue
        end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
        lead = next((j for j in range(i, end) if is_prose(lines[j])), end)
        if lead == end:  # a paragraph of titles
            for j in range(i, end):
                key = title_key(LEADER.sub("", lines[j]))
                if key in entries:  # a listed title comes back as the heading of its section
                    return j, entries, blurbs
                entries.update([key] if key else [])
            i = end
            continue
        titles = [j for j in range(i, end) if lines[j].strip().isupper() or LEADER.search(lines[j])]
        blurb = [lines[j].strip() for j in range(i, end) if j not in titles and lines[j].strip()]
        after = next((j for j in range(end, len(lines)) if lines[j].strip()), None)
        if (entries or titles) and after is not None and opens_entry(lines, after) \
                and sum(map(len, blurb)) <= 1500 and (seen_blurb or blurb_form(lines[i:end])):
            entries.update(k for j in titles if (k := title_key(LEADER.sub("", lines[j]))))
            blurbs, seen_blurb, i = blurbs + sum(map(len, blurb)), True, end
            continue
        if any(line.strip()[:1].islower() for line in lines[i:lead + 1]):
            return i, entries, blurbs  # wrapped prose (lines that go on a sentence): the text has begun
        for j in range(i, lead):  # titles before the first sentence are still entries
            key = title_key(LEADER.sub("", lines[j]))
            if key in entries:
                return j, entries, blurbs
            entries.update([key] if key else [])
        return lead, entries, blurbs
    return len(lines), entries, blurbs


def opens_entry(lines: list[str], start: int) -> bool:
    """The paragraph at `start` is titles only, or opens with a title in capitals or with a page number."""
    end = next((j for j in range(start, len(lines)) if not lines[j].strip()), len(lines))
    first = lines[start]
    titles_only = not any(is_prose(line) for line in lines[start:end])
    return titles_only or first.strip().isupper() or bool(LEADER.search(first))


def is_prose(line: str) -> bool:
    """Longer than a title, or a sentence (lower case, ending in a full stop or comma)."""
    entry = LEADER.sub("", line)
    return len(entry.strip()) > 70 or bool(re.search(r"[a-z]", entry) and entry.rstrip().endswith((".", ",")))


def blurb_form(lines: list[str]) -> bool:
    """What a contents blurb looks like, unlike a preface's first paragraph: topics joined by dashes, page
    numbers, every line indented, or a summary opening "In which"."""
    text = "\n".join(line for line in lines if line.strip())
    dashes = len(re.findall(r"--|\u2014", text)) >= 2
    pages = len(re.findall(r"\b\d{1,4}\b[.,;]?(?:\s|$)", text)) >= 2
    indented = all(line.startswith(("  ", "\t")) for line in lines if line.strip())
    summary = bool(re.match(r"\s*(?:In which|Wherein|Containing|Showing)\b", text))
    return dashes or pages or indented or summary


def title_key(line: str) -> str:
    return re.sub(r"[^A-Z0-9 ]", "", line.upper().replace("--", " ")).strip()


def cut_back_matter(text: str, after: float = 0.6) -> tuple[str, Counter]:
    """Cut an index or the publisher's adverts off the end of a book (or of its last section).

    Only a heading line (`INDEX`, `ADVERTISEMENTS`, `BY THE SAME AUTHOR`, ...) past the fraction `after` of
    the text, with text before it, counts, and only when what follows reads like a list (short lines, few
    sentences), so that an essay that merely mentions an index keeps its text.
    """
    counts: Counter = Counter()
    for pattern, key in ((INDEX, "index_chars"), (ADVERTS, "adverts_chars")):
        for m in pattern.finditer(text):
            if m.start() >= after * len(text) and text[: m.start()].strip() and reads_like_a_list(text[m.end():]):
                counts[key] += len(text) - m.start()
                text = text[: m.start()].rstrip() + "\n"
                break
    return text, counts


def reads_like_a_list(text: str) -> bool:
    """Mostly short lines with few full stops at their ends: an index, a catalogue, a contents list."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) < 3:
        return False
    short = sum(len(line) < 60 for line in lines) / len(lines)
    sentences = sum(line.endswith((".", "?", "!", '"')) and len(line) > 60 for line in lines) / len(lines)
    return short >= 0.6 and sentences <= 0.2
