"""Verifiable instructions: each kind is a small function that says whether an answer complies.

In the spirit of IFEval (Zhou et al. 2023), but written here (IFEval's reference code downloads data on
import). A probe names its kind and parameters in `data/probes/instructions.jsonl`:
    {"check": {"kind": "max_words", "n": 60}, ...}
Every checker takes the answer text and the parameters and returns True or False; nothing is fuzzy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

WORD = re.compile(r"\b[\w'-]+\b")


def count_words(text: str) -> int:
    return len(WORD.findall(text))


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])[\"')\]]*\s+", text.strip())
    return [p for p in parts if WORD.search(p)]


def has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word.lower())}\b", text.lower()) is not None


def max_words(text: str, n: int) -> bool:
    return 0 < count_words(text) <= n


def min_words(text: str, n: int) -> bool:
    return count_words(text) >= n


def max_sentences(text: str, n: int) -> bool:
    return 0 < len(sentences(text)) <= n


def include_words(text: str, words: list[str]) -> bool:
    return all(has_word(text, w) for w in words)


def forbid_words(text: str, words: list[str]) -> bool:
    return bool(text.strip()) and not any(has_word(text, w) for w in words)


def no_commas(text: str) -> bool:
    return bool(text.strip()) and "," not in text and "\uff0c" not in text


def lowercase(text: str) -> bool:
    return any(c.isalpha() for c in text) and text == text.lower()


def bullets(text: str, n: int) -> bool:
    """Exactly n lines that start with "- " or "* " (other lines may introduce them)."""
    return len(re.findall(r"(?m)^\s*[-*\u2022]\s+\S", text)) == n


def json_object(text: str, keys: list[str] | None = None) -> bool:
    """The whole answer is a JSON object (a ```json fence around it is tolerated) with the keys asked for."""
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return False
    return isinstance(value, dict) and all(k in value for k in (keys or []))


def end_with(text: str, phrase: str) -> bool:
    return text.strip().rstrip().endswith(phrase.strip())


def title(text: str) -> bool:
    return re.search(r"<<[^<>\n]+>>", text) is not None


def paragraphs(text: str, n: int) -> bool:
    parts = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return len(parts) == n


def postscript(text: str, marker: str = "P.S.") -> bool:
    return re.search(rf"(?m)^\s*{re.escape(marker)}", text) is not None


CHECKERS: dict[str, Callable[..., bool]] = {
    "max_words": max_words, "min_words": min_words, "max_sentences": max_sentences,
    "include_words": include_words, "forbid_words": forbid_words, "no_commas": no_commas,
    "lowercase": lowercase, "bullets": bullets, "json": json_object, "end_with": end_with, "title": title,
    "paragraphs": paragraphs, "postscript": postscript,
}


def check(text: str, spec: dict) -> bool:
    """Apply a probe's check ({"kind": ..., **params}) to an answer."""
    params = dict(spec)
    kind = params.pop("kind", None)
    if kind not in CHECKERS:
        raise ValueError(f"unknown instruction kind {kind!r} (known: {', '.join(sorted(CHECKERS))})")
    return bool(CHECKERS[kind](text, **params))
