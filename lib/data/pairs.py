"""Instruction pairs: questions the author is asked, answered in the author's own words.

Three sources, merged and de-duplicated:
- templates: for each document, passages of the author's text become answers to questions built from
  the document's title and the passage's most distinctive terms (TF-IDF);
- the researcher's own question-answer file (JSONL or CSV), each pair tied to a document (named in the
  file, or the most similar one) so that pairs follow the train/validation split;
- instruction backtranslation: the base model writes the question a passage answers; a curation step
  drops generations that are not questions or that give the answer away.
Rows are chat prompt/completion pairs (`[{"role": "user", ...}]` / `[{"role": "assistant", ...}]`),
the format TRL trains with loss on the completion only.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from . import corpus
from .chunking import chunk_text
from .corpus import Document
from .progress import progress

TEMPLATES = [
    "What is your view on {term}?",
    "How do you think about {term}?",
    'In "{title}", what do you say about {term}?',
    "What part does {term} play in your argument?",
    "Could you explain your position on {term}?",
    "What would you tell a colleague who asked you about {term}?",
    "How would you answer someone who disagrees with you about {term}?",
    "What have you written about {term}?",
]
OPENING = 'What do you argue in "{title}"?'
FURTHER = ['What else do you say in "{title}"?', 'How does your argument in "{title}" go on?',
           'What is the next step of your argument in "{title}"?', 'Could you say more about "{title}"?']
SOURCES = ("researcher", "backtranslation", "template")  # priority when two pairs say the same


class PairsError(ValueError):
    """A question-answer file that cannot be used; the message names the file and line."""


# --- passages -----------------------------------------------------------------------------------------

def passages(doc: Document, tokenizer, max_tokens: int) -> list[str]:
    """The document cut into answer-sized passages of whole paragraphs (without the title line)."""
    body = doc.text.strip()
    first, _, rest = body.partition("\n\n")
    if rest and first.strip().rstrip(".") == doc.title:
        body = rest
    return [text[: -len(tokenizer.eos_token)].strip() for text, _ in chunk_text(body, tokenizer, max_tokens)]


def pick_evenly(items: list, k: int) -> list[int]:
    """k indices spread over the list, always including the first."""
    if k >= len(items):
        return list(range(len(items)))
    return sorted({round(i * (len(items) - 1) / max(1, k - 1)) for i in range(k)}) if k > 1 else [0]


# --- (a) templates ------------------------------------------------------------------------------------

def template_pairs(docs: list[Document], tokenizer, per_document: int, answer_tokens: int,
                   seed: int) -> list[dict]:
    """Up to `per_document` pairs per document: passage -> a question about its distinctive terms."""
    if per_document <= 0:
        return []
    chosen = {d.name: [] for d in docs}
    all_passages = []
    for doc in progress(docs, "instruction pairs"):
        parts = passages(doc, tokenizer, answer_tokens)
        for i in pick_evenly(parts, per_document):
            chosen[doc.name].append(len(all_passages))
            all_passages.append(parts[i])
    terms = distinctive_terms(all_passages)
    articles = with_articles({t for ts in terms for t in ts}, all_passages)
    rng = random.Random(seed)
    pairs = []
    for doc in docs:
        used: set[str] = set()
        for k, index in enumerate(chosen[doc.name]):
            term = next((t for t in terms[index] if t not in used), None)
            if k == 0 or term is None:
                question = ask(OPENING if k == 0 else FURTHER[(k - 1) % len(FURTHER)], doc.title)
            else:
                used.add(term)
                question = ask(rng.choice(TEMPLATES), doc.title, articles[term])
            pairs.append(pair(question, all_passages[index], doc, "template"))
    return pairs


def ask(template: str, title: str, term: str = "") -> str:
    """A template filled in; a title that ends in its own "?" or "!" closes the question."""
    question = template.format(title=title, term=term)
    return re.sub(r'([?!])"\?$', r'\1"', question)


def with_article(term: str, texts: list[str]) -> str:
    """`the egg`, not `egg`: a topic the author nearly always writes after a determiner gets "the"."""
    return with_articles([term], texts)[term]


WORD_RUN = re.compile(r"\w+")
FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})  # re.I's non-ASCII a-z


def with_articles(terms: Iterable[str], texts: list[str]) -> dict[str, str]:
    """`with_article` for many terms in one pass over the texts: linear in the text, where asking each term
    of every text was terms x texts (minutes for a corpus of thousands of short documents)."""
    counts = article_counts(terms, texts)
    return {t: f"the {t}" if total and after / total >= 0.6 else t for t, (after, total) in counts.items()}


def article_counts(terms: Iterable[str], texts: list[str]) -> dict[str, tuple[int, int]]:
    """Per term: (times written right after a determiner, times written), over all texts.

    A term (lower-case words) is looked for only where a run of word characters starts that equals, ignoring
    case as `re.I` does, its first word; each such place is checked with the term's own `\\b...\\b` pattern,
    so what is counted is exactly what `re.finditer` over each text finds.
    """
    by_word: dict[str, list[str]] = defaultdict(list)
    for term in set(terms):
        by_word[WORD_RUN.match(term).group(0)].append(term)
    patterns = {t: re.compile(rf"\b{re.escape(t)}\b", re.I) for ts in by_word.values() for t in ts}
    after, total = defaultdict(int), defaultdict(int)
    for text in texts:
        end: dict[str, int] = {}  # where the term's last match in this text ended (finditer never overlaps)
        for run in WORD_RUN.finditer(text):
            for term in by_word.get(run.group(0).translate(FOLD).lower(), ()):
                if run.start() < end.get(term, 0) or not (m := patterns[term].match(text, run.start())):
                    continue
                end[term] = m.end()
                total[term] += 1
                before = text[max(0, m.start() - 12): m.start()].lower().split()
                after[term] += bool(before) and before[-1] in DETERMINERS
    return {t: (after[t], total[t]) for t in patterns}


DETERMINERS = set("the a an my our your their his her its every each".split())
# nouns too general to be a topic ("your view on way?"), and the adjectives that follow "the" as often
WEAK = set("""way ways thing things kind kinds sort sorts fact facts case cases point points time times day days
man men woman women people person persons world place places end rest matter matters manner moment number lot
deal sense means reason reasons side sides word words question questions like lord sir great little good
better best bad worse worst new old certain different various possible real true right wrong long short
general common particular present mere""".split())


def noun_phrases(text: str) -> list[str]:
    """Phrases that follow a determiner ("the narrative self", "a checklist"): cheap noun phrases.

    No tagger is available offline; what follows "the"/"a"/"my" is almost always a noun, or an adjective
    and its noun, which is what a question's topic should be.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as STOP

    tokens = re.findall(r"[a-z](?:[a-z'-]*[a-z])?|[^\sa-z]", text.lower())
    words = lambda t: t[0].isalpha() and t not in STOP and len(t) > 2  # noqa: E731
    out = []
    for i, token in enumerate(tokens[:-1]):
        if token not in DETERMINERS or not words(tokens[i + 1]):
            continue
        first = tokens[i + 1]
        second = tokens[i + 2] if i + 2 < len(tokens) else "."
        if words(second) and second not in WEAK:
            out.append(f"{first} {second}")        # "narrative self", "great war"
        elif first not in WEAK and len(first) > 3:
            out.append(first)                      # a noun on its own, not "way" or "egg"
    return out


def distinctive_terms(texts: list[str], top: int = 6) -> list[list[str]]:
    """Each text's most distinctive noun phrases, by TF-IDF over all passages.

    A phrase must recur somewhere in the corpus (min_df=2) so that one-off words do not become topics;
    two-word phrases ("narrative self") weigh a little more than single nouns.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        return []
    vectorizer = TfidfVectorizer(analyzer=noun_phrases, min_df=min(2, len(texts)), sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no phrase recurs anywhere (a tiny corpus)
        return [[] for _ in texts]
    vocab = vectorizer.get_feature_names_out()
    out = []
    for row in matrix:
        row = row.tocoo()
        scored = [(value * (1.5 if " " in vocab[col] else 1.0), vocab[col]) for value, col in zip(row.data, row.col)]
        out.append([t for _, t in sorted(scored, key=lambda x: (-x[0], x[1]))[:top]])
    return out


# --- (b) the researcher's file ----------------------------------------------------------------------

def researcher_pairs(path: str | Path, docs: list[Document]) -> list[dict]:
    """Read a JSONL or CSV file of question/answer[/document]; tie each pair to a document."""
    path = Path(path)
    if not path.exists():
        raise PairsError(f"{path}: question-answer file not found")
    rows = read_qa_file(path)
    names = {d.name: d for d in docs}
    unassigned = [i for i, r in enumerate(rows) if not r.get("document")]
    guesses = nearest_documents([rows[i]["question"] + " " + rows[i]["answer"] for i in unassigned], docs)
    for i, guess in zip(unassigned, guesses):
        rows[i]["document"], rows[i]["assigned"] = guess, "similarity"
    pairs = []
    for number, row in enumerate(rows, 1):
        doc = names.get(row["document"])
        if doc is None:
            raise PairsError(f"{path}: pair {number} names document '{row['document']}', which is not in the "
                             "corpus (a question file for another corpus? set qa_file to yours, or to null)")
        p = pair(row["question"], row["answer"], doc, "researcher")
        p["assigned"] = row.get("assigned", "file")
        pairs.append(p)
    return pairs


def read_qa_file(path: Path) -> list[dict]:
    try:
        text = corpus.read_text(path)  # UTF-8, or UTF-16/32 with a byte-order mark, as the corpus
    except corpus.CorpusError as exc:
        raise PairsError(str(exc)) from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        where = "row"
    elif path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise PairsError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
        where = "line"
    else:
        raise PairsError(f"{path}: question-answer file must be .jsonl or .csv")
    clean = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not str(row.get("question") or "").strip() \
                or not str(row.get("answer") or "").strip():
            raise PairsError(f"{path}: {where} {number} needs a non-empty 'question' and 'answer'")
        if problem := unwritable(row):
            raise PairsError(f"{path}: {where} {number}: {problem}")
        clean.append({"question": str(row["question"]).strip(), "answer": str(row["answer"]).strip(),
                      "document": str(row.get("document") or "").strip()})
    if not clean:
        raise PairsError(f"{path}: no question-answer pairs in the file")
    return clean


def unwritable(row: dict) -> str | None:
    """Text no training file may hold: a lone surrogate (a JSON escape of half a character, `\\ud83d`), which
    cannot be written as UTF-8, or a control character (a NUL byte)."""
    for key in ("question", "answer", "document"):
        value = str(row.get(key) or "")
        if lone := re.search(r"[\ud800-\udfff]", value):
            return (f"the {key!r} holds a lone surrogate (\\u{ord(lone.group(0)):04x}: half of a character's "
                    "escape); write the character itself or its two escapes")
        if control := re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", value):
            return f"the {key!r} holds the control character U+{ord(control.group(0)):04X}; remove it"
    return None


def nearest_documents(texts: list[str], docs: list[Document]) -> list[str]:
    """The most similar document (TF-IDF cosine) for each text."""
    if not texts:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit([d.text for d in docs])
    sims = cosine_similarity(vectorizer.transform(texts), vectorizer.transform([d.text for d in docs]))
    return [docs[int(row.argmax())].name for row in sims]


# --- (c) backtranslation ------------------------------------------------------------------------------

BACKTRANSLATE_PROMPT = ("Here is a passage from an essay.\n\n{passage}\n\nWrite the one question, addressed to "
                        "the author, that this passage answers. Reply with the question only.")


def backtranslated_pairs(docs: list[Document], tokenizer, generate, per_document: int, answer_tokens: int,
                         curate: bool = True) -> tuple[list[dict], list[dict]]:
    """Ask the model for the question each passage answers; return (kept pairs, dropped with reasons).

    `generate(prompts) -> list[str]` is the project's batched chat generation, bound to a model.
    """
    jobs = []
    for doc in docs:
        parts = passages(doc, tokenizer, answer_tokens)
        jobs += [(doc, parts[i]) for i in pick_evenly(parts, per_document)]
    questions = generate([BACKTRANSLATE_PROMPT.format(passage=p) for _, p in jobs])
    kept, dropped = [], []
    for (doc, passage), question in zip(jobs, questions):
        question = question.strip().strip('"').strip()
        reason = "empty" if not question else curation_problem(question, passage) if curate else None
        if reason:
            dropped.append({"document": doc.name, "question": question, "reason": reason})
        else:
            kept.append(pair(question, passage, doc, "backtranslation"))
    return kept, dropped


def curation_problem(question: str, answer: str) -> str | None:
    """Why a generated question should be dropped, or None to keep it."""
    words = re.findall(r"[a-z0-9']+", question.lower())
    if not question.endswith("?") or len(words) < 4:
        return "not a question"
    if len(words) > 60:
        return "too long"
    answer_words = re.findall(r"[a-z0-9']+", answer.lower())
    answer_grams = {tuple(answer_words[i:i + 6]) for i in range(len(answer_words) - 5)}
    if any(tuple(words[i:i + 6]) in answer_grams for i in range(len(words) - 5)):
        return "copies the answer"
    grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    answer_trigrams = {tuple(answer_words[i:i + 3]) for i in range(len(answer_words) - 2)}
    if grams and sum(g in answer_trigrams for g in grams) / len(grams) > 0.5:
        return "gives the answer away"
    return None


# --- rows ---------------------------------------------------------------------------------------------

def pair(question: str, answer: str, doc: Document, source: str) -> dict:
    return {"question": question.strip(), "answer": answer.strip(), "document": doc.name,
            "category": doc.category, "source": source}


def merge(*groups: list[dict]) -> list[dict]:
    """One list without repeats: same question (ignoring case and punctuation) and same answer opening."""
    ordered = sorted((p for g in groups for p in g), key=lambda p: SOURCES.index(p["source"]))
    seen, out = set(), []
    for p in ordered:
        key = (normalise(p["question"]), normalise(p["answer"])[:200])
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return out


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def to_chat(p: dict, system_prompt: str | None = None) -> dict:
    """The row written to instruction_*.jsonl: chat prompt/completion plus where it came from."""
    prompt = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + \
        [{"role": "user", "content": p["question"]}]
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": p["answer"]}],
            "document": p["document"], "category": p["category"], "source": p["source"]}
