"""Which position an answer takes on a new-context probe: the author's new statement, her corpus position,
or neither, judged by marker phrases that the prompt does not contain, asserted in the answer's own voice.

A probe (`data/probes/new_context.jsonl`) puts a short statement in which the author says she changed her
mind into the prompt, asks a question, and lists `new_markers` (phrasings of the new view) and
`corpus_markers` (phrasings of her corpus position). Two things would make such markers lie:
- **copying**: a marker that occurs in the prompt is scored by any answer that repeats the prompt, so only
  markers absent from the prompt count (`check_markers` refuses probes whose markers are copied);
- **rejection**: "You now say X. I disagree." uses X's words to reject it. A marker counts for its side only
  when the answer asserts it: not inside a question, a long quotation or reported speech ("you write that",
  "some argue") unless the answer then agrees, not after a negation in its clause ("not", "never", "no
  longer", "rather than"), not inside a rejecting or past-self frame ("I reject the idea that", "it is wrong
  to say", "I once thought", "the claim that ... is mistaken"), and not in a sentence the next one rejects
  ("That is wrong.", "I disagree.").
An answer that quotes or reports one side's view and then explicitly rejects it scores nothing for that side
(`rejected_views`). Each side scores the number of distinct markers asserted; more wins, a tie is "neither".
The rules are validated on labelled answers (followers, keepers, quoting rejecters and accepters, evasive
answers) in tests/test_steering.py. They are heuristics, not a parser: a follower who puts the new view in
words no marker anticipates reads as "neither", so "follows the new statement" is a lower bound.
"""

from __future__ import annotations

import re

from .checkers import sentence_spans

QUOTE = re.compile(r"[\"\u201c\u201d]([^\"\u201c\u201d]+)[\"\u201c\u201d]")
LONG_QUOTE_WORDS = 6       # a quotation of this many words is someone's words; shorter ones are scare quotes
NEGATION_WINDOW = 10       # words after "not"/"never"/... that the negation reaches (within its clause)
STOPWORDS = set("a an the of to in on at by for and or but is are was were be been it its this that these those "
                "as with from than then so not no do does did i you he she we they her his their our my your "
                "what who whom which there here can could should would may might must will shall".split())

CLAUSE_END = re.compile(r"[;:\u2014\u2013()]|\s-\s|\b(?:but|yet|instead|whereas|although|though|while|because)\b|"
                        r"(?:,|\band) now\b")
NEGATION = re.compile(r"\b(?:not(?! only\b| just\b| least\b)|cannot|never|no longer|no(?!\s*[,.!?;:])(?! doubt\b"
                      r"| less\b| matter\b)|nor|neither|hardly|rather than|instead of|far from|nothing(?! but\b)|"
                      r"without|lacks?|lacking|absence of|devoid of|more than (?:a|an|just|mere|merely))\b|n't\b")
ADVERB = (r"(?:(?!(?:not|never|cannot|can't|don't|didn't|won't|couldn't|wouldn't|no)\b)\w+ )?")  # "I firmly reject"
REJECT = re.compile(
    rf"\b(?:i {ADVERB}(?:reject|disagree|dispute|deny|doubt)|"
    rf"i {ADVERB}(?:do not|don't|cannot|can't|could not|couldn't|will not|won't|no longer) {ADVERB}"
    r"(?:accept|agree|believe|think|hold|see|buy|share|endorse|follow)|"
    rf"(?:it is|it's|it would be|that is|this is) {ADVERB}(?:wrong|false|a mistake|an error|mistaken|misguided|"
    r"untrue|not true|not the case|a confusion) (?:to|that)|"
    rf"i was {ADVERB}(?:wrong|mistaken)|(?:my|her|the) (?:old|earlier|former|previous) (?:view|position|claim|"
    rf"phrase|belief)|i have {ADVERB}(?:abandoned|given up|dropped|moved away from|changed my mind about|"
    r"retreated from)|nothing could be further|it does not follow|there is no reason to|"
    r"i am not (?:persuaded|convinced)|nor is it|against the (?:idea|view|claim|notion) that)")
SAYING = (r"(?:say|says|said|write|writes|wrote|suggest|suggests|suggested|argue|argues|argued|claim|claims|"
          r"claimed|hold|holds|held|think|thinks|thought|believe|believed|insist|insists|insisted|propose|"
          r"proposes|maintain|maintains|call|called|describe|described|put it)")
ATTRIBUTE = re.compile(
    rf"\b(?:(?:you|the (?:note|statement|passage|text|author|letter)|your (?:note|statement|words|letter)|"
    rf"some(?: people)?|critics|proponents|others|many) {ADVERB}{SAYING}|according to|"
    rf"it is {ADVERB}(?:said|argued|claimed|suggested)|"
    rf"i {ADVERB}(?:used to|once|previously|formerly|first|long) {ADVERB}{SAYING}|"
    r"(?:the|this|that|your|such a) (?:new )?(?:view|claim|idea|notion|suggestion|proposal|position|"
    r"statement|thought) (?:is )?that)\b")
ACCEPT = re.compile(
    r"\b(?:i (?:now |fully |entirely |completely |also |must |do |can |would |largely |wholly )?"
    r"(?:agree|accept|endorse|share|adopt|stand by)\b|i (?:now |still )(?:hold|think|believe)|"
    r"i (?:now |still |firmly )?(?:hold|take|share) the view|you are (?:quite |entirely |surely )?right|"
    r"(?:that|this|it) is (?:quite |entirely |surely )?(?:right|correct|true)\b|rightly|correctly|"
    rf"i have come (?:round|around) to|i am (?:now )?(?:persuaded|convinced)|\bstill\b|"
    rf"as (?:you|the note|the statement|i) {ADVERB}{SAYING})")
ANAPHORIC_REJECT = re.compile(
    r"^\W*(?:(?:but|yet|however|and)\W+)?(?:"
    rf"i {ADVERB}disagree(?:\W*$|[,;:.!]|\W+with (?:that|this|it|you|the (?:note|statement|view|claim|idea)))|"
    rf"i {ADVERB}(?:reject|dispute|deny) (?:that|this|it)\b|"
    rf"i {ADVERB}(?:do not|don't|cannot|can't|no longer) (?:accept|agree|believe|think|hold|buy)"
    r"(?: (?:that|this|it|so|any of (?:that|this|it)))?\W*$|"
    rf"i {ADVERB}(?:do not|don't|cannot|can't|no longer) (?:accept|agree with|believe|buy|hold) (?:that|this|it)\b|"
    r"(?:i (?:\w+ )?(?:think|believe|fear|suspect) )?(?:that|this|it)(?: view| claim| idea)? is (?:\w+ )?(?:wrong|"
    r"false|mistaken|misguided|not so|not true|not right|a mistake|an error|not my view)|"
    r"i am (?:\w+ )?not (?:persuaded|convinced)|i doubt (?:that|this|it)\b|not so\b|nonsense|wrong\b|no\W*$)")
ANAPHORIC_ACCEPT = re.compile(
    r"^\W*(?:i (?:\w+ )?agree|you are (?:\w+ )?right|(?:that|this|it) is (?:\w+ )?(?:right|correct|true)|"
    r"quite so|exactly|i accept (?:that|this|it))\b")
POST_REJECT = re.compile(r"\b(?:is|seems|was|sounds) (?:\w+ )?(?:wrong|false|mistaken|misguided|untenable|"
                         r"a mistake|an error|confused|a confusion|not (?:right|true|so))\b")
FRAME_BEFORE = re.compile(r"\b(?:the (?:idea|view|claim|notion|suggestion|thought|belief|proposal) that|"
                          r"to (?:say|think|claim|suggest|believe) that)\b")


def _normal(text: str) -> str:
    """Lower case, straight apostrophes, hyphens as spaces, one space between words (lines kept)."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"[ \t]+", " ", re.sub(r"(?<=\w)-(?=\w)", " ", text))


def marker_pattern(marker: str) -> re.Pattern:
    """A marker as whole words; "*" at a word's end takes any ending ("bind*" = binding, binds)."""
    words = _normal(marker).strip().split()
    parts = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in words]
    return re.compile(r"\b" + r"\s+".join(parts) + (r"" if words and words[-1].endswith("*") else r"\b"))


def occurs(marker: str, text: str) -> bool:
    return marker_pattern(marker).search(_normal(text)) is not None


def _clause_before(sentence: str, position: int) -> str:
    """The part of the sentence's clause that comes before `position`."""
    before = sentence[:position]
    ends = list(CLAUSE_END.finditer(before))
    return before[ends[-1].end():] if ends else before


def _negated(sentence: str, position: int) -> bool:
    clause = _clause_before(sentence, position)
    for cue in NEGATION.finditer(clause):
        if len(clause[cue.end():].split()) <= NEGATION_WINDOW:
            return True
    return REJECT.search(clause) is not None


def _quoted(text: str, position: int) -> bool:
    return any(m.start() < position < m.end() and len(m.group(1).split()) >= LONG_QUOTE_WORDS
               for m in QUOTE.finditer(text))


def _later_clauses(rest: str) -> list[str]:
    """The clauses after the one `rest` starts in."""
    return re.split(r"[,;:\u2014\u2013]|\s-\s|\b(?=but\b|yet\b|however\b)", rest)[1:]


def _rejected_after(rest: str) -> bool:
    """A later clause of the same sentence rejects what came before ("X, but I disagree"; "X: that is wrong")."""
    return any(ANAPHORIC_REJECT.search(p) for p in _later_clauses(rest))


def _accepted(sentence: str, start: int, end: int, following: str) -> bool:
    """The answer agrees with what it reports at [start, end): in that clause ("you say X, and you are
    right"), in a later clause opening with agreement ("; I agree") or in the next sentence ("I agree.")."""
    rest = sentence[end:]
    close = CLAUSE_END.search(rest)
    clause = _clause_before(sentence, start) + sentence[start:end] + (rest[:close.start()] if close else rest)
    return bool(ACCEPT.search(clause) or any(ANAPHORIC_ACCEPT.search(p) for p in _later_clauses(rest))
                or ANAPHORIC_ACCEPT.search(following))


def asserted(marker: str, answer: str) -> bool:
    """Whether the answer asserts the marker in its own voice at least once (see the module's rules)."""
    text = _normal(answer)
    spans = sentence_spans(text)
    pattern = marker_pattern(marker)
    for i, (start, end) in enumerate(spans):
        sentence = text[start:end]
        following = text[spans[i + 1][0]:spans[i + 1][1]].strip() if i + 1 < len(spans) else ""
        for found in pattern.finditer(sentence):
            if sentence.rstrip().rstrip("\"')*_").endswith("?") or _negated(sentence, found.start()):
                continue
            if ANAPHORIC_REJECT.search(following) or _rejected_after(sentence[found.end():]):
                continue
            if FRAME_BEFORE.search(sentence[:found.start()]) and POST_REJECT.search(sentence[found.end():]):
                continue
            reported = (_quoted(text, start + found.start())
                        or ATTRIBUTE.search(_clause_before(sentence, found.start())) is not None)
            if reported and not _accepted(sentence, found.start(), found.end(), following):
                continue
            return True
    return False


def usable(markers: list[str], prompt: str) -> list[str]:
    """The markers that do not occur in the prompt (only those can tell following from copying)."""
    return [m for m in markers if not occurs(m, prompt)]


def _overlap(text: str, side: set[str]) -> float:
    words = {_stem(w) for w in _content(text)}
    return len(words & side) / len(words) if len(words) >= 3 else 0.0


def rejected_views(answer: str, probe: dict) -> set[str]:
    """Which views ("new", "corpus") the answer reports or quotes and then explicitly rejects.

    A sentence that reports a view ("you now say that ...", "I once wrote that ...") or quotes one (a
    quotation of 6+ words), and is rejected (by a frame before it, a later clause or the next sentence: "I
    disagree", "That is wrong", "I am not persuaded"), rejects the view whose words it shares most: the
    new statement or the corpus position (at least half of its content words, and 0.2 more than the
    other). An answer that rejects a view cannot be scored as taking it, whatever words it goes on to use."""
    sides = {"new": {_stem(w) for w in _content(probe.get("new_statement", ""))},
             "corpus": {_stem(w) for w in _content(probe.get("corpus_position", ""))}}
    text = _normal(answer)
    spans = sentence_spans(text)
    out = set()
    for i, (start, end) in enumerate(spans):
        sentence = text[start:end]
        following = text[spans[i + 1][0]:spans[i + 1][1]] if i + 1 < len(spans) else ""
        quotes = [m.group(1) for m in QUOTE.finditer(sentence) if len(m.group(1).split()) >= LONG_QUOTE_WORDS]
        report = ATTRIBUTE.search(sentence)
        if not (quotes or report):
            continue
        rejected = (REJECT.search(sentence) or ANAPHORIC_REJECT.search(following.strip())
                    or _rejected_after(sentence[report.end():] if report else sentence))
        if not rejected or ACCEPT.search(sentence):
            continue
        content = sentence[report.end():] if report else " ".join(quotes)
        share = {side: _overlap(content, words) for side, words in sides.items()}
        for side, other in (("new", "corpus"), ("corpus", "new")):
            if share[side] >= 0.5 and share[side] >= share[other] + 0.2:
                out.add(side)
    return out


def scores(answer: str, probe: dict, prompt: str) -> tuple[int, int]:
    """(new, corpus): how many distinct usable markers of each side the answer asserts; 0 for a side whose
    view the answer quotes or reports and then rejects (`rejected_views`)."""
    rejected = rejected_views(answer, probe)
    new = 0 if "new" in rejected else sum(asserted(m, answer) for m in usable(probe["new_markers"], prompt))
    old = 0 if "corpus" in rejected else sum(asserted(m, answer) for m in usable(probe["corpus_markers"], prompt))
    return new, old


def stance(answer: str, probe: dict, prompt: str) -> str:
    """"new", "corpus" or "neither": the side with more asserted markers that the prompt does not contain."""
    new, old = scores(answer, probe, prompt)
    return "new" if new > old else "corpus" if old > new else "neither"


def _stem(word: str) -> str:
    return word[:5] if len(word) >= 5 else word


def _content(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z']+", _normal(text)) if w not in STOPWORDS and len(w) > 2]


def check_markers(probe: dict, prompt: str) -> str | None:
    """Why a probe's markers cannot tell following from copying or from the other side, or None.

    Refused: fewer than 3 markers a side; a marker (of either side) that occurs in the prompt, or whose
    every content word shares its first five letters with a prompt word (a copy in other order or
    inflection); a marker on both sides, or one side's marker inside the other's."""
    prompt_stems = {_stem(w) for w in _content(prompt)}
    lists = {"new_markers": probe.get("new_markers"), "corpus_markers": probe.get("corpus_markers")}
    for name, markers in lists.items():
        if not isinstance(markers, list) or len(markers) < 3 or not all(isinstance(m, str) and m.strip()
                                                                        for m in markers):
            return f"{name} needs at least 3 non-empty phrases"
        for marker in markers:
            content = _content(marker.replace("*", ""))
            if occurs(marker, prompt):
                return f"{name}: {marker!r} occurs in the prompt; use a phrase the prompt does not contain"
            if not content:
                return f"{name}: {marker!r} has no content word; use a phrase with a noun, verb or adjective"
            if all(_stem(w) in prompt_stems for w in content):
                return (f"{name}: {marker!r} is made of the prompt's own words; "
                        "use a paraphrase with at least one word the prompt lacks")
    for new in lists["new_markers"]:
        for old in lists["corpus_markers"]:
            if occurs(new, old.replace("*", "")) or occurs(old, new.replace("*", "")):
                return f"{new!r} (new) and {old!r} (corpus) overlap; the two lists must share nothing"
    return None


def check_probe_file(rows: list[dict], template: str, path: str = "new_context.jsonl",
                     lines: list[int] | None = None) -> None:
    """Refuse new-context probes whose markers `check_markers` rejects, with a one-line ValueError naming the
    file and the line. `template` builds the prompt as the study does ("...{statement}...{question}")."""
    for i, row in enumerate(rows):
        prompt = template.format(statement=row.get("new_statement", ""), question=row.get("question", ""))
        why = check_markers(row, prompt)
        if why:
            line = lines[i] if lines else i + 1
            raise ValueError(f"{path}: line {line} ({row.get('id')}): {why}")
