"""The DigiDan test done as Schwitzgebel, Schwitzgebel & Strasser (2024) did it, so that only the voice can
give the real answer away.

For each question the author really answered, a tuned model answers several times; a judge (the authorship
measure, or a person) picks the author's answer among the options; chance is 1 / options. Machine outputs
are cut at a sentence end; an output that ends no sentence by the cut point is excluded, as is one that
names the author or says it is a machine, and the next sample drawn (up to a limit; every exclusion counted).
Quotes, dashes, ellipses and spacing are made uniform in every option. The result is read two-sided: the
real answer picked more often than chance means the machine is told apart; less often also (its answers
look more like the author than the author does: regurgitated training text, or a caricature).

Where to cut (`rule`). Schwitzgebel et al. cut each machine answer at the first sentence end after X - 5
words, X the real answer's length ("schwitzgebel"). That leaks length: the sentence running over word
X - 5 is a length-biased draw (the inspection paradox), so machine answers run longer than the real one.
With other passages of the same author as the "machine" (the truth: indistinguishable), a classifier on
surface features alone (`surface_pick_rate`) picked the real answer 22% of the time for the sample author
(14-word sentences), 33% for Chesterton (22) and 51% for Schopenhauer (31), against 20% chance. The
default ("shared") cuts every option, the real answer included, at its first sentence end after the same
T = X / 2 words: all options then end the same way, and the same check gave 19-21% (at T = 0.75 X,
21-22%: the real answer, which cannot run past its end, was too often the longest). The real answer shown
is a prefix of the author's, ending at one of the author's own full stops; the whole answer is kept too.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

import numpy as np

from . import inference, stats

QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
                        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                        "\u00ab": '"', "\u00bb": '"'})
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
NUMBER_RANGE = re.compile(r"(?<=\d)\s*[\u2012\u2013]\s*(?=\d)")
DASH = re.compile(r"\s*(?:[\u2012\u2013\u2014\u2015\u2212]+|-{2,})\s*|\s+-\s+")
LIST_MARK = re.compile(r"^[ \t]*(?:[-*\u2022]|\d+[.)])[ \t]+", re.M)
HEADING = re.compile(r"^[ \t]*#+[ \t]*", re.M)
EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "e.g.", "i.e.", "etc.", "vs.", "cf.", "viz.",
                 "no.", "vol.", "pp.", "p.", "ch.", "jr.", "sr.", "mt.", "fig.", "rev.", "gen.", "col.", "esq."}
SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
MACHINE = re.compile(
    r"\bas an? (?:ai|artificial intelligence|(?:large )?language model|llm|chatbot|(?:virtual |digital )?assistant"
    r"|machine)\b|\b(?:i am|i'm) (?:just |only )?(?:an? )?(?:ai|artificial intelligence|(?:large )?language model"
    r"|llm|chatbot|bot|(?:virtual |digital |ai )?assistant)\b|\blanguage model\b|\bchatbot\b|\bai (?:assistant|model)\b"
    r"|\bopenai\b|\bchatgpt\b|\bgpt-?\d|\bllama\b|\bmeta ai\b|\banthropic\b|\bmy training data\b|\btrained on (?:a |large |vast )*(?:data|datasets?|corpus|corpora|text)\b"
    r"|\bknowledge cut-?off\b|\bi (?:do not|don't) have (?:personal |my own )?(?:opinions|feelings|beliefs|experiences"
    r"|views)\b|\bi (?:am|'m) (?:sorry|afraid),? but i (?:can't|cannot)\b|\bi (?:can't|cannot) (?:provide|answer|help)"
    r"|<\|[a-z_]+\|>|^(?:user|assistant|system)\s*:", re.I | re.M)


def normalise(text: str) -> str:
    """The same typography for every option, real or machine: a model's curly quotes, em dashes, "--",
    ellipsis character, markdown emphasis, list marks or odd spacing would otherwise tell it apart from an
    author who types straight quotes (or the reverse). Quotes become straight, every dash " - "-like
    separator becomes a spaced em dash (a number range keeps a hyphen), ellipses become "...", emphasis and
    list marks go, and all whitespace is one space."""
    text = unicodedata.normalize("NFKC", text).translate(QUOTES)
    text = INVISIBLE.sub("", text).replace("''", '"')
    text = HEADING.sub("", LIST_MARK.sub("", text))
    text = EMPHASIS.sub(lambda m: m.group(2) or m.group(3), text)
    text = NUMBER_RANGE.sub("-", text)
    text = DASH.sub(" \u2014 ", text)
    text = re.sub(r"\s*\.(?:\s?\.){2,}", "...", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,;:!?])", r"\1", text)
    return re.sub(r"\s+\.(?!\.)", ".", text).strip()


def ends_sentence(word: str) -> bool:
    """A word that closes a sentence: ends in . ! or ? (perhaps inside a closing quote or bracket), and is
    not an abbreviation, an initial ("G.") or an ellipsis (a trailing-off is no full stop)."""
    if not SENTENCE_END.search(word):
        return False
    bare = word.rstrip("\"')]")
    if bare.endswith("..."):
        return False
    if bare.endswith(".") and (bare.lower() in ABBREVIATIONS or re.fullmatch(r"[A-Z]\.", bare)):
        return False
    return True


SHARED_CUT = 0.5
RULES = ("shared", "schwitzgebel")


def cut_at(text: str, words: int) -> str | None:
    """The (normalised) text up to its first sentence end at or after `words` words; None if it has none."""
    tokens = normalise(text).split()
    for i, word in enumerate(tokens):
        if i + 1 >= words and ends_sentence(word):
            return " ".join(tokens[: i + 1])
    return None


def cut_point(real: str, rule: str = "shared") -> int:
    """Where options are cut, in words, from the real answer's length X: X / 2 ("shared") or X - 5."""
    if rule not in RULES:
        raise ValueError(f"DigiDan cut rule must be one of {RULES}, not {rule!r}")
    length = len(normalise(real).split())
    return max(1, round(SHARED_CUT * length)) if rule == "shared" else length - 5


def cut_like(machine: str, real: str, rule: str = "shared") -> str | None:
    """A machine output cut to match the real answer: at its first sentence end after the cut point
    (`cut_point`); None when it ends no sentence by then (such outputs are excluded: an answer cut
    mid-sentence, or left short, gives itself away). rule="schwitzgebel" is the published X - 5 rule."""
    return cut_at(machine, cut_point(real, rule))


def shown_real(real: str, rule: str = "shared") -> str | None:
    """The real answer as the options show it: whole under the published rule; under "shared", cut at the
    same point as the machine answers (None when it ends no sentence after that point)."""
    return normalise(real) if rule == "schwitzgebel" else cut_at(real, cut_point(real, rule))


def names_the_speaker(text: str, names: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether an answer gives its speaker away: it names the author (a full name or its surname, as a whole
    word, case as written) or says it is an AI, a language model or an assistant, refuses as assistants do,
    or carries chat-template debris. Such outputs are excluded rather than shown."""
    if MACHINE.search(text):
        return True
    for name in names:
        parts = [name.strip()] + ([name.split()[-1]] if len(name.split()) > 1 and len(name.split()[-1]) > 2 else [])
        if any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in parts if p):
            return True
    return False


def build_items(real_items: list[dict], sample: Callable[[str, int], str], n_machine: int = 4, max_tries: int = 12,
                author_names=(), rule: str = "shared", foils: Callable[[str, int], str] | None = None,
                n_foils: int = 0) -> tuple[list[dict], dict]:
    """The questionnaire's items: each real answer with `n_machine` usable machine answers (and, with `foils`,
    `n_foils` usable answers of another source: the control author's model).

    `real_items`: {"id", "question", "answer", "source": "written" | "held-out passage"}. `sample(question,
    attempt)` returns one machine output for attempt = 0, 1, ... (the caller adds its own seed); `foils` the
    same for the other source. Outputs are cut with `cut_like`; too short, naming the speaker, or repeating an
    option already there (or the real answer) means excluded and counted, and the next attempt drawn; an item
    that does not reach n_machine (and n_foils) within max_tries attempts each (or whose real answer ends no
    sentence after the cut point) is dropped and counted, its id listed. Everything returned is normalised.
    Returns (items {"id", "question", "real" (as shown), "machine", "control" (the foils; empty without),
    "source", "answer" (the author's whole answer), "cut_words"}, counts).
    """
    counts = {"items": len(real_items), "rule": rule, "attempts": 0, "excluded_short": 0, "excluded_speaker": 0,
              "excluded_duplicate": 0, "items_dropped": 0, "dropped_ids": []}
    items = []
    for item in real_items:
        missing = [k for k in ("id", "question", "answer") if not str(item.get(k) or "").strip()]
        source = item.get("source", "written")
        if missing or source not in ("written", "held-out passage"):
            problem = f"lacks {', '.join(missing)}" if missing else f"has source {source!r}"
            raise ValueError(f"DigiDan item {item.get('id', '?')!r} {problem}: each needs id, question, answer and "
                             "source 'written' or 'held-out passage'")
        real = shown_real(item["answer"], rule)
        machine = gather(sample, item, real, [], n_machine, max_tries, author_names, rule, counts) if real else []
        control = (gather(foils, item, real, machine, n_foils, max_tries, author_names, rule, counts)
                   if foils and n_foils and len(machine) == n_machine else [])
        if len(machine) < n_machine or len(control) < (n_foils if foils else 0):
            counts["items_dropped"] += 1
            counts["dropped_ids"].append(item["id"])
            continue
        items.append({"id": item["id"], "question": normalise(item["question"]), "real": real, "machine": machine,
                      "control": control, "source": source, "answer": normalise(item["answer"]),
                      "cut_words": cut_point(item["answer"], rule)})
    return items, counts


def gather(sample: Callable[[str, int], str], item: dict, real: str, taken: list[str], wanted: int, max_tries: int,
           author_names, rule: str, counts: dict) -> list[str]:
    """Up to `wanted` usable outputs of `sample` for one item (cut like the real answer; none too short, naming
    the speaker, or repeating the real answer, an option in `taken` or one already found), exclusions counted."""
    found: list[str] = []
    for attempt in range(max_tries):
        if len(found) == wanted:
            break
        counts["attempts"] += 1
        cut = cut_like(sample(item["question"], attempt), item["answer"], rule)
        reason = ("excluded_short" if cut is None else "excluded_speaker" if names_the_speaker(cut, author_names)
                  else "excluded_duplicate" if cut == real or cut in found or cut in taken else None)
        if reason:
            counts[reason] += 1
        else:
            found.append(cut)
    return found


def verdict(estimate: stats.Estimate, chance: float, alpha: float = 0.05) -> str:
    """The two-sided reading of a pick rate against chance: by its p-value, or where it has none (people
    scored over respondents and items) by whether its interval holds chance."""
    if not estimate.n:
        return "no items"
    if estimate.p_value is not None:
        unclear = estimate.p_value >= alpha
    else:
        unclear = not estimate.low > chance and not estimate.high < chance
    if unclear:
        return "indistinguishable at this sample size"
    if estimate.mean > chance:
        return "distinguishable: the real answer stands out"
    return "distinguishable: the machine answers look more like the author than the author does"


def detectable(n: int, chance: float, power: float = 0.8, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """The pick rates below and above chance that n items detect with this power (None: none can be)."""
    grid = np.linspace(0, 1, 2001)
    reach = inference.binomial_power(n, chance, grid, alpha) >= power
    below, above = grid[reach & (grid < chance)], grid[reach & (grid > chance)]
    return (float(below.max()) if below.size else None, float(above.min()) if above.size else None)


def pick_rate(picks: list[bool], chance: float) -> dict:
    """How often the judge (the authorship measure, or people) picked the real answer, against chance: the
    rate, its Wilson interval, the exact two-sided binomial p, the verdict, and the rates this many items
    could have detected (80% power) below and above chance. "estimate" holds the same as a stats.Estimate."""
    e = stats.versus_chance([float(p) for p in picks], chance)
    low_rate, high_rate = detectable(e.n, chance) if e.n else (None, None)
    return {"estimate": e, "picked": int(round(e.mean * e.n)) if e.n else 0, "n": e.n, "rate": e.mean, "ci_low": e.low,
            "ci_high": e.high, "chance": chance, "p_value": e.p_value, "verdict": verdict(e, chance),
            "method": e.method, "detectable_below": low_rate, "detectable_above": high_rate}


def surface_features(text: str) -> list[float]:
    """What a reader sees without reading: length, the last character, dashes, capitals, quotes, sentences."""
    words = text.split()
    letters = [c for c in text if c.isalpha()]
    sentences = max(1, sum(ends_sentence(w) for w in words))
    last = text.rstrip()[-1:] or " "
    per_word = 1 / max(1, len(words))
    return [np.log1p(len(words)), np.log1p(len(text)), len(text) * per_word, float(last == "."), float(last == "?"),
            float(last == "!"), float(last.isalnum()), float(text.rstrip().endswith("...")),
            text.count("\u2014") * per_word, text.count("-") * per_word,
            sum(c.isupper() for c in letters) / max(1, len(letters)), (text.count('"') + text.count("'")) * per_word,
            np.log1p(sentences), len(words) / sentences, text.count(",") * per_word,
            (text.count(";") + text.count(":")) * per_word, float(text[:1].isupper())]


def surface_pick_rate(items: list[dict]) -> stats.Estimate:
    """How often a classifier that sees only surface features picks the real answer, trained leave one item
    out (logistic regression on features centred within each item, the highest-scoring option picked).
    At chance, the questionnaire's form gives nothing away; above (or below) chance, it does."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sizes = {len(item["machine"]) + 1 for item in items}
    if len(sizes) != 1 or len(items) < 3:
        raise ValueError("surface_pick_rate: needs at least 3 items, each with the same number of options")
    features = []
    for item in items:
        block = np.array([surface_features(t) for t in [item["real"]] + item["machine"]])
        features.append(block - block.mean(0))
    labels = np.zeros(sizes.pop())
    labels[0] = 1
    hits, rng = [], np.random.default_rng(0)
    for held in range(len(items)):
        train = np.concatenate([f for i, f in enumerate(features) if i != held])
        scaler = StandardScaler().fit(train)
        model = LogisticRegression(C=1.0, solver="liblinear").fit(scaler.transform(train),
                                                             np.tile(labels, len(items) - 1))
        scores = model.decision_function(scaler.transform(features[held]))
        hits.append(float(rng.choice(np.flatnonzero(scores >= scores.max() - 1e-12)) == 0))  # ties: by lot
    e = stats.versus_chance(hits, 1 / len(labels))
    return stats.Estimate(e.mean, e.low, e.high, e.n, "surface-feature classifier, leave one item out; " + e.method,
                          e.p_value)
