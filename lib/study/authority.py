"""How authoritative an answer sounds, measured without mistaking the author's idiolect for authority.

- Hedges and boosters per 100 words (after Hyland's metadiscourse categories; the word lists below are
  generic English, no phrase of any one author). Modals count in their modal sense only: "may" but not
  "May" the month ("in May", "May 2024"), "might" but not "with all her might", "must" but not "a must";
  "could not" is not a hedge, "not sure" is, and a negated booster ("not always") counts as a hedge.
- Every rate is read against the author's own rate on her training text (`baseline_rates`,
  `relative_rate`): 1.0 means she would write it that way herself, so her habits are not "authority".
- Readability (Flesch reading ease, syllables from pyphen) and support (share of an answer's word 3-grams
  found in the author's retrieved passages).
- `judge_choice` reads a judge model's free-text verdict ("which sounds more authoritative, A or B?") and
  returns "A", "B" or None; None is counted apart, never scored against an arm.
"""

from __future__ import annotations

import functools
import math
import re

from .checkers import WORD, count_words, sentence_spans, sentences

HEDGE_WORDS = {"perhaps", "possibly", "probably", "maybe", "apparently", "arguably", "presumably", "seemingly",
               "conceivably", "plausibly", "likely", "unlikely", "possible", "plausible", "uncertain", "unclear",
               "doubtful", "somewhat", "roughly", "approximately", "largely", "partly", "relatively", "fairly",
               "tentatively", "generally", "usually", "typically", "often", "sometimes", "occasionally",
               "seem", "seems", "seemed", "may", "might", "could"}
HEDGE_PHRASES = ["i think", "i believe", "i suspect", "i guess", "i feel that", "in my view", "in my opinion",
                 "to some extent", "to a degree", "more or less", "in part", "not sure", "not certain",
                 "not necessarily", "it depends", "as far as i know", "there is a chance",
                 "appear to", "appears to", "appeared to", "it appears", "tend to", "tends to", "suggests",
                 "suggest that", "suggested that"]
BOOSTER_WORDS = {"clearly", "certainly", "definitely", "undoubtedly", "obviously", "surely", "evidently",
                 "undeniably", "unquestionably", "indisputably", "doubtless", "always", "never", "indeed",
                 "absolutely", "must"}
BOOSTER_PHRASES = ["of course", "in fact", "no doubt", "without doubt", "beyond doubt", "without question",
                   "beyond question", "it is clear", "it is obvious", "everyone knows", "am certain", "is certain",
                   "are certain", "am sure", "i'm sure", "proves that", "demonstrates that", "there is no question"]
NEGATORS = {"not", "never", "hardly", "n't"}
MONTH_BEFORE = {"in", "of", "during", "since", "until", "till", "from", "through", "early", "late", "mid", "next",
                "last", "before", "after"}
MODAL_AFTER_INITIAL_MAY = {"i", "we", "you", "he", "she", "it", "they", "the", "a", "an", "this", "that", "these",
                           "those", "my", "our", "your", "his", "her", "their", "all", "every", "each", "one", "god"}
NOUN_MIGHT_BEFORE = {"the", "his", "her", "their", "its", "my", "our", "your", "all", "military", "economic",
                     "naval", "full", "whose", "of", "with"}
RHETORICAL_MAY = {"object", "say", "ask", "worry", "wonder", "reply", "protest", "notice", "recall", "remember",
                  "think", "feel", "suppose", "imagine", "answer", "respond"}


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Words (apostrophes straightened) with whether each starts a sentence."""
    out, text = [], text.replace("\u2019", "'")
    for start, end in sentence_spans(text):
        words = WORD.findall(text[start:end])
        out += [(w, i == 0) for i, w in enumerate(words)]
    return out


def _modal_sense(tokens: list[tuple[str, bool]], i: int) -> bool:
    """Whether may/might/must/could at position i is the modal verb, in the sense the lists mean."""
    word, initial = tokens[i]
    low = word.lower()
    before = tokens[i - 1][0].lower() if i > 0 and not initial else ""
    before2 = tokens[i - 2][0].lower() if i > 1 else ""
    after = tokens[i + 1][0].lower() if i + 1 < len(tokens) and not tokens[i + 1][1] else ""
    if low == "may":
        if after.isdigit() or (before in MONTH_BEFORE and not (before == "last" and before2 == "the")):
            return False
        if initial:
            return after in MODAL_AFTER_INITIAL_MAY
        if word[0].isupper():                # "In May", "Theresa May": a month or a name
            return False
        return not (before == "you" and after in RHETORICAL_MAY)  # "you may object": a debating formula
    if low == "might":
        return initial or not (before in NOUN_MIGHT_BEFORE or after == "of")
    if low == "must":
        return initial or before not in {"a", "an", "the", "this", "absolute", "real"}
    if low == "could":
        return after not in {"not", "never", "hardly"}
    return True


def _count(text: str, words: set[str], phrases: list[str], negated_to: list | None = None) -> int:
    """Occurrences of the words (modals in their modal sense) and phrases, each word used once at most."""
    tokens = _tokens(text)
    lows = [w.lower() for w, _ in tokens]
    used = [False] * len(tokens)
    hits = 0
    for phrase in sorted(phrases, key=lambda p: -len(p.split())):
        parts = phrase.split()
        for i in range(len(lows) - len(parts) + 1):
            if lows[i:i + len(parts)] == parts and not any(used[i:i + len(parts)]):
                used[i:i + len(parts)] = [True] * len(parts)
                hits += 1
    for i, low in enumerate(lows):
        if used[i] or low not in words:
            continue
        if low in {"may", "might", "must", "could"} and not _modal_sense(tokens, i):
            continue
        if negated_to is not None and not tokens[i][1] and (lows[i - 1] in NEGATORS or lows[i - 1].endswith("n't")):
            negated_to.append(low)           # "not always", "isn't clearly": a negated booster hedges
            continue
        used[i] = True
        hits += 1
    return hits


def per_100(count: int, text: str) -> float:
    n = count_words(text)
    return 100 * count / n if n else 0.0


def hedges(text: str) -> int:
    """How many hedges the text uses, negated boosters ("not always", "not clearly") included."""
    negated: list[str] = []
    _count(text, BOOSTER_WORDS, [], negated)
    return _count(text, HEDGE_WORDS, HEDGE_PHRASES) + len(negated)


def boosters(text: str) -> int:
    """How many boosters the text uses; a booster right after "not" ("not always") is not one."""
    return _count(text, BOOSTER_WORDS, BOOSTER_PHRASES, [])


def hedges_per_100(text: str) -> float:
    return per_100(hedges(text), text)


def boosters_per_100(text: str) -> float:
    return per_100(boosters(text), text)


def baseline_rates(author_texts: list[str]) -> dict:
    """The author's own rates on her training text, pooled over all her words ("hedges", "boosters" per 100
    words), with the total `words` and the per-document rates (`hedges_by_document`, `boosters_by_document`)."""
    texts = [t for t in author_texts if count_words(t)]
    words = sum(count_words(t) for t in texts)
    if not words:
        raise ValueError("baseline_rates: the author's texts have no words; pass her training documents")
    hedges = [hedges_per_100(t) for t in texts]
    boosters = [boosters_per_100(t) for t in texts]
    weights = [count_words(t) / words for t in texts]
    return {"hedges": sum(h * w for h, w in zip(hedges, weights)),
            "boosters": sum(b * w for b, w in zip(boosters, weights)), "words": words,
            "hedges_by_document": hedges, "boosters_by_document": boosters}


def relative_rate(rate: float, baseline: float) -> float:
    """An answer's rate as a multiple of the author's own (1.0 = as she writes; 2.0 = twice as often); NaN
    when her baseline is 0, where only the difference `rate - baseline` can be reported."""
    return rate / baseline if baseline > 0 else math.nan


# --- readability and support ----------------------------------------------------------------------------

@functools.cache
def hyphenator():
    """pyphen's English dictionary, loaded once (it parses a hyphenation file)."""
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    return max(1, len(hyphenator().positions(word)) + 1)


def flesch_reading_ease(text: str) -> float:
    """206.835 - 1.015 words/sentence - 84.6 syllables/word: higher is easier (60-70 is plain English).
    Sentences as `checkers.sentences` splits them (not fooled by "Dr." or "e.g."); NaN for a text without words."""
    words = re.findall(r"[A-Za-z]+", text)
    if not words:
        return float("nan")
    n_sentences = max(1, len(sentences(text)))
    return 206.835 - 1.015 * len(words) / n_sentences - 84.6 * sum(syllables(w) for w in words) / len(words)


def support(answer: str, passages: list[str], n: int = 3) -> float:
    """Share of the answer's word n-grams that occur in the passages."""
    tokens = re.findall(r"[a-z']+", answer.lower())
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    source = set()
    for passage in passages:
        words = re.findall(r"[a-z']+", passage.lower())
        source |= {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    return sum(g in source for g in grams) / len(grams)


# --- the judge's verdict -----------------------------------------------------------------------------------

VERDICT_VERBS = {"is", "was", "sounds", "seems", "reads", "comes", "wins", "has", "uses", "does", "appears",
                 "feels", "gives", "makes", "conveys", "projects", "presents", "offers", "provides", "employs",
                 "would", "definitely", "clearly", "because", "as", "since", "for", "but", "and", "or", "sounded",
                 "speaks"}
LETTER = r"(?<![\w'])((?-i:[AB]))(?![\w'])"          # a capital A or B standing alone (case-sensitive)
PAIR = re.compile(r"\b(?:both|either|neither)?\s*\(?(?-i:[AB])\)?\s*(?:and|or|nor|vs\.?|versus|/|&)\s*"
                  r"\(?(?-i:[AB])\)?(?!\w)", re.I)
UNDECIDED = re.compile(r"\b(?:both|neither|equally|tie|tied|a draw|same|similar(?:ly)?|unable to|not possible to|"
                       r"(?:cannot|can't) (?:decide|choose|tell|say)|(?:hard|impossible) to (?:say|tell|choose)|"
                       r"no (?:clear )?difference)\b", re.I)
QUALITY = (r"(?:authoritative|confident|assertive|commanding|convincing|persuasive|certain|forceful|"
           r"decisive|expert|credible|self-assured|sure of itself)")
DEGREE = r"(?:(?:much|far|slightly|somewhat|clearly|definitely|a bit|a little|noticeably|significantly|also) )*"
SEEMS = r"(?:is|sounds|seems|reads|comes across as|appears|feels|was)"
# (pattern, whether it names the *other* answer): explicit verdicts, strongest first
VERDICTS = [(re.compile(p, re.I | re.M), flip) for p, flip in [
    (rf"\b(?:verdict|choice|winner|final answer|my answer|answer is|pick|(?:more|most) authoritative(?: one| answer|"
     rf" response)?)\s*(?:is|:|=|would be|-)?\s*{LETTER}", False),
    (rf"\b(?:i|i'd|i would|i will|i'll|we)\s+(?:\w+\s+)?(?:choose|pick|select|go with|say|prefer|vote for|opt for|"
     rf"lean towards?|favou?r|give it to)\s*(?:it'?s?\s*)?{LETTER}", False),
    (rf"{LETTER}\s*(?:{SEEMS}|wins)\s+{DEGREE}(?:the )?(?:more|most)(?: \w+)? {QUALITY}", False),
    (rf"{LETTER}\s*{SEEMS}\s+(?:the )?(?:winner|better choice|clear winner|stronger)", False),
    (rf"{LETTER}\s*,?\s*(?:by far|clearly|definitely|obviously|without doubt)", False),
    (rf"\b(?:but|though|although|while|yet)\s+{LETTER}\s+(?:is )?(?:more so|slightly more so|a bit more so|edges|"
     rf"wins|stronger)", False),
    (rf"\b(?:actually|on reflection|on second thought|wait|rather)\W+{LETTER}", False),    # a self-correction
    (rf"{LETTER}\s+(?:is|does|wins)\s*[.!]?\s*$", False),                                   # "... A is."
    (rf"{LETTER}\s*{SEEMS}\s+{DEGREE}(?:less|not as|not nearly as|weaker)", True),
    (rf"{LETTER}\s*(?:is not|isn't|does not sound|doesn't sound|is hardly|sounds hardly)\s+(?:(?:as|more|very|"
     rf"particularly|at all)\s+)?{QUALITY}", True),
]]
ANSWER_NOUN = r"(?: one| answer| response| option| text| reply)"
NOT_AN_ANSWER = r"(?! (?:sentence|line|paragraph|point|part|half|of|time|place))"
ORDINAL_A = re.compile(rf"\bthe (?:first|former){ANSWER_NOUN}?\b{NOT_AN_ANSWER}|\b(?:first|former){ANSWER_NOUN}\b",
                       re.I)
ORDINAL_B = re.compile(rf"\bthe (?:second|latter){ANSWER_NOUN}?\b{NOT_AN_ANSWER}|\b(?:second|latter){ANSWER_NOUN}\b",
                       re.I)
NAMED = re.compile(r"\b(?:answer|option|response|choice|text|version|candidate|letter)\s*[:#]?\s*([ab])\b", re.I)


def _letters(text: str) -> str:
    """The text with each reference to an answer written as the bare capital letter A or B: "the first one",
    "Answer b", "(a)" become A/B; an article "A" opening a sentence ("A more confident answer ...") becomes "a"."""
    text = ORDINAL_A.sub(" A ", text)
    text = ORDINAL_B.sub(" B ", text)
    text = NAMED.sub(lambda m: " " + m.group(1).upper() + " ", text)
    text = re.sub(r"\(([abAB])\)", lambda m: " " + m.group(1).upper() + " ", text)
    text = re.sub(r"(?<![\w'])b(?![\w'])", "B", text)
    text = re.sub(r"(?<![\w'])a(?=\s*[.!]?\s*$)", "A", text)              # a lone "a" ending the verdict

    def article(m: re.Match) -> str:
        return m.group(1) + ("A " if m.group(2) in VERDICT_VERBS else "a ") + m.group(2)
    return re.sub(r"((?:^|[.!?:]\s+|\n)\s*[\"'(\[]*)A\s+([a-z][\w-]*)", article, text)


def judge_choice(text: str) -> str | None:
    """"A", "B" or None from a judge's free-text verdict on which answer sounds more authoritative.

    Reads "B", "B.", "(B)", "**B**", "Answer B", "I would say the second one (B)", "B is more authoritative",
    "A sounds less confident" (= B); never the article "A" at the start of a sentence ("A more confident
    answer is B" = B). Returns None for both/neither/equal verdicts, for "A and B", and when the text names
    both letters as its choice or contradicts itself; callers count None apart."""
    if not isinstance(text, str) or not text.strip():
        return None
    plain = re.sub(r"[*_`#>]+", " ", text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"'))
    plain = PAIR.sub(" ", _letters(plain))
    verdicts = [{"A": "B", "B": "A"}[m.group(1)] if flip else m.group(1)
                for pattern, flip in VERDICTS for m in pattern.finditer(plain)]
    lead = re.match(rf"\W*{LETTER}\s*(?:[.!:,;)\-\u2014]|$|\n|\s+because\b)", plain)
    if lead:                                   # "B." or "B - because ...": the verdict comes first
        verdicts.append(lead.group(1))
    verdicts += re.findall(rf"(?m)^\W*{LETTER}\W*$", plain)     # a line that is only a letter
    if verdicts:
        return verdicts[0] if len(set(verdicts)) == 1 else None
    mentions = set(re.findall(LETTER, plain))
    if UNDECIDED.search(plain) or len(mentions) != 1:
        return None
    return mentions.pop()
