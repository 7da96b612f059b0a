"""The other side of every comparison: text by other people, never the author.

- `generic_corpus` (a folder, read and cleaned like the author's corpus): other human authors writing in a
  comparable register, one sub-folder per author (a file at the top of the folder counts as an author of
  its own). The authorship measure learns the author against it, and the forgetting measure reads it.
- `general_text` (one file, the fallback for forgetting when there is no generic corpus): cut into units of
  about `unit_words` words at paragraph breaks, so its intervals rest on more than one unit, and so that
  titles and one-line fragments do not count as units.
"""

from __future__ import annotations

from pathlib import Path

from ..data import cleaning, corpus
from ..files import storage


class GenericError(ValueError):
    """A generic corpus or general text that cannot be used; the message says which and what to do."""


def load_generic(path: str | Path) -> dict[str, list[str]]:
    """Author -> cleaned document texts of a generic corpus folder (Gutenberg boilerplate removed)."""
    folder = storage.find_input(path)
    if not folder.is_dir():
        raise GenericError(f"{folder}: generic_corpus must be a folder (one sub-folder per author)")
    try:
        docs = corpus.load_corpus(folder, strip_gutenberg=True, verbose=False)
    except corpus.CorpusError as exc:
        raise GenericError(f"generic_corpus: {exc}") from None
    docs, _ = cleaning.clean_corpus(docs)
    by_author: dict[str, list[str]] = {}
    for doc in docs:
        author = Path(doc.name).stem if doc.category == folder.name else doc.category
        by_author.setdefault(author, []).append(doc.text)
    return by_author


def general_units(path: str | Path, unit_words: int = 200, min_words: int = 50) -> dict[str, list[str]]:
    """The general reference text as units of about `unit_words` words (consecutive paragraphs)."""
    file = storage.find_input(path)
    if not file.exists():
        raise GenericError(f"{file}: general reference text not found (general_text in config.yaml)")
    units, current = {}, []
    for paragraph in [p.strip() for p in file.read_text(encoding="utf-8").split("\n\n") if p.strip()]:
        current.append(paragraph)
        if sum(len(p.split()) for p in current) >= unit_words:
            units[f"{file.name}#{len(units) + 1}"] = ["\n\n".join(current)]
            current = []
    if current and sum(len(p.split()) for p in current) >= min_words:
        units[f"{file.name}#{len(units) + 1}"] = ["\n\n".join(current)]
    return units
