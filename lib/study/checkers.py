"""Verifiable instructions: whether a whole answer complies, and whether a probe can be complied with at all.

In the spirit of IFEval (Zhou et al. 2023), written here (IFEval's reference code downloads data on import).
A probe names its kind and parameters in `data/probes/instructions.jsonl`:
    {"check": {"kind": "max_words", "n": 60}, ...}
Every checker takes the answer text and the parameters and returns True or False. Checkers accept the
formatting a model really produces ("1." or "-" bullets, JSON in a code fence, "PS:" for "P.S.", bold
markers, trailing spaces) and still reject real non-compliance.

Checkers judge **whole** answers: an answer the generation cap cut is not evidence either way, so the study
generates instruction probes to the end (`instruction_max_new_tokens`) and counts cut answers apart.
`feasible` says why a check cannot be met (or cannot fail) under a cap; `check_probe_file` refuses such
probes when the file is read, naming the line.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable

WORD = re.compile(r"\b[\w'-]+\b")
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "prof", "st", "vs", "etc", "e.g", "i.e", "cf", "fig", "approx",
                 "jr", "sr", "mt", "vol", "p", "pp", "ed", "eds", "al"}
BULLET = re.compile(r"^(\s*)(?:[-*\u2022+]|\d{1,2}[.)])\s+(?=[^\n]*\w)\S")
EMPHASIS = "*_`\"'\u201c\u201d\u2018\u2019 "


def count_words(text: str) -> int:
    return len(WORD.findall(text))


END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]*_]*(?=\s|$)")
LIST_START = re.compile(r"\n(?=[ \t]*(?:[-*\u2022+]|\d{1,2}[.)]|#+)[ \t]+\S)")


def _not_an_end(text: str, match: re.Match) -> bool:
    """A full stop after "Dr", "e.g", an initial, or a list number at the start of a line ("1.")."""
    if not match.group().startswith(".") or match.group().count(".") != 1:
        return False
    line = text[text.rfind("\n", 0, match.start()) + 1:match.start()]
    words = line.split()
    if not words:
        return False
    last = words[-1].lower().strip("(\"'\u201c\u2018")
    return (last in ABBREVIATIONS or re.fullmatch(r"[a-z]|[a-z](?:\.[a-z])+", last) is not None
            or (len(words) == 1 and re.fullmatch(r"\d{1,2}", last) is not None))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: ends at . ! ? (not after "Dr.", "e.g.", initials, decimals or list
    numbers "1."), at blank lines, and before list items and headings, which are sentences of their own."""
    cuts = {0, len(text)}
    cuts |= {m.start() for m in re.finditer(r"\n[ \t]*\n", text)}
    cuts |= {m.start() for m in LIST_START.finditer(text)}
    cuts |= {m.end() for m in END.finditer(text) if not _not_an_end(text, m)}
    points = sorted(cuts)
    return [(a, b) for a, b in zip(points, points[1:]) if WORD.search(text[a:b])]


def sentences(text: str) -> list[str]:
    """The sentences of a text, list markers removed (see `sentence_spans`)."""
    return [re.sub(r"^\s*(?:[-*\u2022+]|\d{1,2}[.)]|#+)\s+", "", text[a:b]).strip()
            for a, b in sentence_spans(text)]


def has_word(text: str, word: str) -> bool:
    """The word or phrase as whole words, case-insensitive, with its plural or possessive ("lighthouses",
    "lighthouse's"; "story" also as "stories")."""
    word = word.lower().strip()
    stem = re.escape(word)
    forms = [rf"{stem}(?:'s|\u2019s|s|es)?"]
    if word.endswith("y") and len(word) > 2:
        forms.append(rf"{re.escape(word[:-1])}ies")
    pattern = r"\b(?:" + "|".join(forms) + r")\b"
    return re.search(pattern, text.lower().replace("\u2019", "'")) is not None


def max_words(text: str, n: int) -> bool:
    return 0 < count_words(text) <= n


def min_words(text: str, n: int) -> bool:
    return count_words(text) >= n


def max_sentences(text: str, n: int) -> bool:
    return 0 < len(sentences(text)) <= n


def include_words(text: str, words: list[str]) -> bool:
    return all(has_word(text, w) for w in words)


def forbid_words(text: str, words: list[str]) -> bool:
    return bool(WORD.search(text)) and not any(has_word(text, w) for w in words)


def no_commas(text: str) -> bool:
    return bool(WORD.search(text)) and not any(c in text for c in ",\uff0c\u060c")


def lowercase(text: str) -> bool:
    return any(c.isalpha() for c in text) and text == text.lower()


def bullets(text: str, n: int) -> bool:
    """Exactly n top-level list items ("- ", "* ", "\u2022 ", "+ ", "1. ", "1) "); lines before or after may
    introduce or close the list, and indented sub-items are not counted."""
    items = [m for m in (BULLET.match(line) for line in text.splitlines()) if m]
    if not items:
        return False
    top = min(len(m.group(1).expandtabs(4)) for m in items)
    return sum(len(m.group(1).expandtabs(4)) == top for m in items) == n


def json_object(text: str, keys: list[str] | None = None) -> bool:
    """The whole answer is one JSON object with the keys asked for (any case; other keys allowed). A code
    fence around it is tolerated; prose before or after it is not ("answer only with")."""
    body = text.strip()
    fence = re.fullmatch(r"```[a-zA-Z]*\s*\n?(.*?)\n?\s*```", body, flags=re.S)
    if fence:
        body = fence.group(1).strip()
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return False
    if not isinstance(value, dict):
        return False
    present = {str(k).strip().lower() for k in value}
    return all(k.lower() in present for k in (keys or []))


def _plain(text: str) -> str:
    """Curly quotes straightened and whitespace collapsed, for exact-phrase comparisons."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def end_with(text: str, phrase: str) -> bool:
    """The answer's last words are the phrase; bold, italics or quotes around it and trailing spaces are
    tolerated, anything after it is not."""
    body, core = _plain(text).rstrip(EMPHASIS), _plain(phrase).rstrip(EMPHASIS)
    return bool(core) and body.endswith(core) and (len(body) == len(core) or not body[-len(core) - 1].isalnum())


def title(text: str) -> bool:
    """A title in double angular brackets (<<Like This>>) with at least one word in it."""
    return re.search(r"<<[^<>\n]*\w[^<>\n]*>>", text) is not None


def paragraphs(text: str, n: int) -> bool:
    """Exactly n paragraphs separated by blank lines (a line of only "***" or "---" separates too)."""
    body = re.sub(r"(?m)^\s*(?:\*\s*){3,}$|^\s*(?:-\s*){3,}$", "\n", text.strip())
    parts = [p for p in re.split(r"\n\s*\n", body) if WORD.search(p)]
    return len(parts) == n


def postscript(text: str, marker: str = "P.S.") -> bool:
    """A postscript after the answer: a line (or a sentence) starting with the marker, written the usual
    ways ("P.S.", "PS:", "P.S:", "P. S.", "**P.S.**"), followed by some words."""
    letters = [c for c in marker if c.isalpha()]
    if not letters:
        return re.search(re.escape(marker), text) is not None
    loose = r"[*_]*" + r"\.?\s?".join(map(re.escape, letters)) + r"\.?[*_]*[:,\-\u2014]?[*_]*\s+\S"
    found = re.search(rf"(?:^|\n|(?<=[.!?])\s+)\s*{loose}", text.strip(), flags=re.I)
    return found is not None and bool(WORD.search(text.strip()[:found.start()]))


CHECKERS: dict[str, Callable[..., bool]] = {
    "max_words": max_words, "min_words": min_words, "max_sentences": max_sentences,
    "include_words": include_words, "forbid_words": forbid_words, "no_commas": no_commas,
    "lowercase": lowercase, "bullets": bullets, "json": json_object, "end_with": end_with, "title": title,
    "paragraphs": paragraphs, "postscript": postscript,
}


def _split(spec: dict) -> tuple[str, dict]:
    params = dict(spec)
    kind = params.pop("kind", None)
    if kind not in CHECKERS:
        raise ValueError(f"unknown instruction kind {kind!r} (known: {', '.join(sorted(CHECKERS))})")
    allowed = set(inspect.signature(CHECKERS[kind]).parameters) - {"text"}
    if set(params) - allowed:
        raise ValueError(f"instruction kind {kind!r} takes {', '.join(sorted(allowed)) or 'no parameters'}, "
                         f"not {', '.join(sorted(set(params) - allowed))}")
    return kind, params


def check(text: str, spec: dict) -> bool:
    """Apply a probe's check ({"kind": ..., **params}) to a whole (uncut) answer."""
    kind, params = _split(spec)
    bad = _bad_params(kind, params)
    if bad:
        raise ValueError(f"malformed check {spec}: {bad}")
    return bool(CHECKERS[kind](text, **params))


# --- feasibility under a generation cap ------------------------------------------------------------------

WORDS_PER_TOKEN = 0.75   # English prose with Llama-3 tokens: 0.71-0.86 measured (see data/probes/README.md)
SAFETY = 1.5             # room for the model's own framing, markdown and overshoot
BODY_WORDS = 30          # the least answer that can carry a framed instruction (title, end phrase, P.S.)
UNIT_WORDS = {"bullets": 8, "paragraphs": 25, "json": 15}  # the least content of one item, paragraph, key


def tokens_for(words: int) -> int:
    """Tokens to budget for an answer of `words` words, margin included."""
    return math.ceil(words / WORDS_PER_TOKEN * SAFETY)


def _words_needed(kind: str, params: dict) -> int:
    if kind == "min_words":
        return params["n"]
    if kind in ("bullets", "paragraphs"):
        return params["n"] * UNIT_WORDS[kind]
    if kind == "json":
        return len(params.get("keys") or [""]) * UNIT_WORDS["json"]
    extra = {"end_with": count_words(params.get("phrase", "")), "include_words": len(params.get("words", [])),
             "postscript": 10, "title": 8}.get(kind, 0)
    return BODY_WORDS + extra


def _bad_params(kind: str, params: dict) -> str | None:
    required = [name for name, p in inspect.signature(CHECKERS[kind]).parameters.items()
                if name != "text" and p.default is inspect.Parameter.empty]
    missing = [name for name in required if name not in params]
    if missing:
        return f"{kind} needs {', '.join(missing)}"
    n = params.get("n")
    if "n" in params and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        return f"{kind} needs a whole number n >= 1, not {n!r}"
    for name in ("words", "keys"):
        if name in params and (not isinstance(params[name], list) or not params[name]
                               or not all(isinstance(w, str) and w.strip() for w in params[name])):
            return f"{kind} needs {name} as a non-empty list of non-empty strings"
    for name in ("phrase", "marker"):
        if name in params and not (isinstance(params[name], str) and WORD.search(params[name])):
            return f"{kind} needs a {name} with at least one word"
    return None


def feasible(spec: dict, max_new_tokens: int) -> str | None:
    """None when an answer generated under `max_new_tokens` can comply *and* can fail; otherwise why not.

    Words are budgeted at WORDS_PER_TOKEN with a SAFETY margin: "at least n words" needs about
    n / 0.75 x 1.5 = 2n tokens (so min_words <= 200 under a 400-token cap, <= 80 under 160)."""
    try:
        kind, params = _split(spec)
    except ValueError as exc:
        return str(exc)
    bad = _bad_params(kind, params)
    if bad:
        return bad
    need = tokens_for(_words_needed(kind, params))
    if need > max_new_tokens:
        what = f"{kind} {params['n']}" if "n" in params else kind
        return (f"{what} needs about {need} tokens ({_words_needed(kind, params)} words at "
                f"{WORDS_PER_TOKEN} words/token with a x{SAFETY} margin), more than the cap of {max_new_tokens}")
    capacity = max_new_tokens * WORDS_PER_TOKEN
    if kind == "max_words" and params["n"] >= capacity:
        return (f"max_words {params['n']} cannot fail: an uncut answer under a cap of {max_new_tokens} tokens "
                f"has about {capacity:.0f} words at most")
    if kind == "max_sentences" and params["n"] * 4 >= capacity:
        return (f"max_sentences {params['n']} cannot fail: {params['n']} sentences of 4 words fill a cap of "
                f"{max_new_tokens} tokens")
    return None


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten", 12: "twelve"}


def wording_mismatch(instruction: str, spec: dict) -> str | None:
    """Why the instruction's wording does not say what its check checks (a number, word, phrase or key the
    check uses and the instruction never mentions), or None."""
    _, params = _split(spec)
    said = _plain(instruction).lower()
    n = params.get("n")
    if n is not None and not re.search(rf"\b(?:{n}|{NUMBER_WORDS.get(n, str(n))})\b", said):
        return f"the check uses n = {n} but the instruction does not say {n}"
    for name in ("words", "keys"):
        for word in params.get(name, []):
            if word.lower() not in said:
                return f"the check uses {word!r} but the instruction does not mention it"
    for name in ("phrase", "marker"):
        if name in params and _plain(params[name]).lower() not in said:
            return f"the check uses {params[name]!r} but the instruction does not quote it"
    return None


def check_probe_file(rows: list[dict], max_new_tokens: int, path: str = "instructions.jsonl",
                     lines: list[int] | None = None) -> None:
    """Refuse instruction probes that cannot be met (or cannot fail) under the cap, whose check is malformed,
    whose wording does not match their check, or whose id repeats. Raises a one-line ValueError naming the
    file and the line (`lines[i]` is row i's line in the file; by default rows are lines 1, 2, ...)."""
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        line = lines[i] if lines else i + 1
        where = f"{path}: line {line}"
        if not isinstance(row.get("check"), dict):
            raise ValueError(f"{where}: 'check' must be an object like {{\"kind\": \"max_words\", \"n\": 50}}")
        why = feasible(row["check"], max_new_tokens)
        if why:
            raise ValueError(f"{where}: {why}; change the check or instruction_max_new_tokens")
        mismatch = wording_mismatch(str(row.get("instruction", "")), row["check"])
        if mismatch:
            raise ValueError(f"{where}: {mismatch}; make the instruction say what the check checks")
        pid = str(row.get("id"))
        if pid in seen:
            raise ValueError(f"{where}: id {pid!r} repeats line {seen[pid]}; give each probe its own id")
        seen[pid] = line
