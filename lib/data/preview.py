"""What reading the corpus will make of it, before anything is written: `prepare --dry-run` and `01_data`.

One row per document (its heading and where it was found, its size, its side of the split) and what was
dropped from each file and why, with a warning for every document that does not look like the author's
prose: an index, a contents list, the publisher's adverts or title page, a heading that swallowed a list,
or a size far from the others'. Splitting by headings is then a matter of looking, not of trial and error.
"""

from __future__ import annotations

import re
import statistics

from . import corpus, gutenberg, headings

REASONS = {**gutenberg.REASONS,
           "front_matter_chars": "text before the first heading (title page, preface without a heading)",
           "dropped_sections": "sections whose heading matches drop_sections",
           "dropped_section_chars": "characters in those sections",
           "epigraphs_moved": "epigraphs set before their heading, moved to the section they open",
           "short_section_chars": "text under headings with almost nothing under them (joined to the next heading)"}
ADVERT_WORDS = ("by the same author", "crown 8vo", "8vo", "cloth", "price", " net", "now ready", "uniform with",
                "illustrated", "edition", "post free", "publishers", "volumes", "each volume")
PUBLISHER = re.compile(r"published by|printed by|copyright|all rights reserved|\bpress\b|& co\b|\bltd\b|limited|"
                       r"\blondon\b|\bnew york\b|\bboston\b|\bedinburgh\b", re.I)


def looks_like(doc: corpus.Document, median: float) -> list[str]:
    """Why a document may not be the author's prose (empty when it looks like an essay)."""
    text, notes = doc.text, []
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    listy = gutenberg.reads_like_a_list(text)
    numbered = sum(bool(re.search(r"\d+\s*$", line)) for line in lines) / max(1, len(lines))
    if gutenberg.INDEX.match(doc.heading or "") or (listy and numbered > 0.3):
        notes.append("an index")
    heading = doc.heading or ""
    if re.search(r"\bCONTENTS\b", heading, re.I) or gutenberg.LEADER.search(text) and listy:
        notes.append("a contents list")
    adverts = sum(w in text.lower() for w in ADVERT_WORDS) >= 3 and (listy or len(text) < 5000)
    if gutenberg.ADVERTS.match(heading) or adverts:
        notes.append("publisher's adverts")
    publisher = {m.group(0).lower() for m in PUBLISHER.finditer(heading + "\n" + (text if len(text) < 1500 else ""))}
    if len(publisher) >= 2:
        notes.append("a publisher's or title page")
    if doc.note:
        notes.append(doc.note)
    if len((doc.heading or "").split()) > 12:
        notes.append(f"a heading of {len(doc.heading.split())} words (a list matched split_pattern?)")
    if median and len(text) < median / 5:
        notes.append(f"much shorter than the median ({len(text):,} vs {median:,.0f} chars)")
    elif median and len(text) > median * 5:
        notes.append(f"much longer than the median ({len(text):,} vs {median:,.0f} chars: the rest of the book "
                     "appended?)")
    return notes


def rows(docs: list[corpus.Document], split: dict[str, str] | None = None) -> list[dict]:
    """One row per document, as the table shows it."""
    median = statistics.median(len(d.text) for d in docs) if docs else 0
    return [{"document": d.name, "heading": headings.readable_title(d.heading) if d.heading else "",
             "line": d.line or "", "category": d.category, "chars": len(d.text), "words": len(d.text.split()),
             **({"side": split.get(d.name, "")} if split else {}),
             "looks like": "; ".join(looks_like(d, median))} for d in docs]


def dropped(docs: corpus.Corpus) -> list[dict]:
    """What was removed from each file as a whole, and why."""
    out = []
    for report in getattr(docs, "file_reports", []):
        for key, value in report.items():
            if key in ("file", "chars") or not value:
                continue
            out.append({"file": report["file"], "removed": REASONS.get(key, key.replace("_", " ")),
                        "amount": f"{value:,}" + (" chars" if key.endswith("_chars") else "")})
    return out


def warnings_for(table: list[dict]) -> list[str]:
    return [f"{r['document']} looks like {r['looks like']}: check split_pattern, drop_sections or the file"
            for r in table if r["looks like"]]


def preview(docs: corpus.Corpus, cfg=None):
    """(the documents as a DataFrame, the lines to show under it: what was dropped, the warnings)."""
    import pandas as pd

    split = side_of(docs, cfg) if cfg is not None else None
    found = rows(docs, split if isinstance(split, dict) else None)
    notes = [f"dropped from {d['file']}: {d['removed']} ({d['amount']})" for d in dropped(docs)]
    notes += [f"warning: {w}" for w in warnings_for(found) + ([split] if isinstance(split, str) else [])]
    return pd.DataFrame(found).set_index("document"), notes


def table(docs: corpus.Corpus, cfg=None):
    """The notebook's view: what was dropped and the warnings printed, the documents as a DataFrame."""
    frame, notes = preview(docs, cfg)
    for line in notes:
        print(line)
    return frame


def side_of(docs: list[corpus.Document], cfg) -> dict[str, str] | str:
    """Each document's side of the split, or why there is no split."""
    from . import prepare

    try:
        return prepare.split_documents(docs, cfg.val_fraction, cfg.seed, cfg.val_documents,
                                       prepare.one_document_advice(cfg, docs), cfg.min_held_out_documents)
    except prepare.SplitError as exc:
        return str(exc)


def report(cfg) -> str:
    """`prepare --dry-run`: the whole preview as text; nothing is written and no model is loaded."""
    import pandas as pd

    docs = corpus.from_config(cfg, verbose=False)
    frame, notes = preview(docs, cfg)
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 48):
        lines = [f"corpus: {cfg.corpus}" + (f"  split_pattern: {cfg.split_pattern}" if cfg.split_pattern else ""),
                 frame.to_string(), "", *notes]
    chars = [len(d.text) for d in docs]
    lines.append(f"{len(docs)} documents, {sum(chars):,} characters (median {statistics.median(chars):,.0f}); "
                 "dry run: nothing written")
    return "\n".join(lines)
