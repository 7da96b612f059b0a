"""Texts of known origin for the oracle arms, cut the way a real run cuts them, and register-matched writers
picked by rule.

Roles: the **author** (her documents split into training and held-out sides), the **control** (another
writer in her register, split the same way: the control arm's side), the **other voice** (a third writer in
her register, used nowhere in training: the placebo), an **unseen voice** (a writer outside her register,
nowhere in training) and the **generic** side (other writers, an excerpt each; never the other voice or the
unseen voice, so neither is ever judged against the side it sits on).

Any writer is a file or folder (`writer_documents`): a corpus cut at headings when a pattern is given, else
each book cut into sections of about `SECTION_WORDS` words at paragraph breaks (a long book is not one
document). Documents are split as the data stage splits them (`lib.data.prepare.split_documents`, with the
floor of held-out documents) and cut into the chunks the data stage writes (`lib.data.chunking`, in Llama-3.2's
own tokens when its tokenizer is installed), so the study reads the passages a real run gives it.

Register-matched writers are picked by Burrows' Delta (`lib.data.stylometry`), not by hand: among the
population's essay-like writers (`essay_like`: one person each, a title of essays, lectures, sermons, letters,
...), `population_pair` takes the nearest pair, the one with less text as the author (the control must have at
least as much to be matched in tokens), and the writer nearest the author after the control as the other voice.
"""

from __future__ import annotations

import functools
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

ESSAY_TITLES = re.compile(r"essay|lecture|sermon|discourse|studies|letters|reflections|thoughts|philosoph|address",
                          re.I)
NOT_ONE_PERSON = ("various", "anonymous", "unknown")
SECTION_WORDS = 3000     # a book without headings becomes documents of about this many words
DELTA_WORDS = 40_000     # words of each writer compared by Delta (the first, after cleaning)
MAX_DOCUMENTS = 30       # documents kept per writer (the first): a corpus of the size the toolkit is built for
HELD_OUT = 0.25          # share of documents held out (at least cfg.min_held_out_documents): enough held-out
#                          text for 50 openings and 50 DigiDan items per author
EXCERPT_WORDS = 2000     # words of each generic writer
ESSAY_EXCERPT_WORDS = 15_000  # words of each essay-like generic writer (100 windows of 150: what the verifier uses)
TOKENS_PER_WORD = 1.3    # Llama-3.2 on 19th-century prose, for chunking when its tokenizer is not installed
SCHOPENHAUER_HEADINGS = r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$"
CHESTERTON_HEADINGS = r"^[A-Z][A-Z ,;:'-]*[A-Z]\.?$"


@dataclass
class Sources:
    """Texts of known origin, by role (see the module's docstring)."""
    author_train: dict[str, str]          # document -> text
    author_held_out: dict[str, str]
    control_train: dict[str, str]
    control_held_out: dict[str, str]
    other: list[str]                      # the other voice (placebo): nowhere in training
    unseen: list[str]                     # a writer outside her register: nowhere in training
    generic: dict[str, list[str]]         # generic writer -> texts
    names: dict[str, str] = field(default_factory=dict)   # role -> writer


# --- writers -------------------------------------------------------------------------------------------

def sections(text: str, words: int = SECTION_WORDS) -> list[str]:
    """Consecutive paragraphs joined until about `words` words (a tail under min(300, words) words is dropped)."""
    out, current = [], []
    for paragraph in text.split("\n\n"):
        current.append(paragraph)
        if sum(len(p.split()) for p in current) >= words:
            out.append("\n\n".join(current))
            current = []
    if current and sum(len(p.split()) for p in current) >= min(300, words):
        out.append("\n\n".join(current))
    return out


def writer_documents(paths, headings: str | None = None, max_documents: int = MAX_DOCUMENTS) -> dict[str, str]:
    """A writer's documents of 300+ words from a file, a folder, or several files: cleaned as the data stage
    cleans (Gutenberg boilerplate off), cut at `headings` if given; a document over twice SECTION_WORDS (a book)
    is cut into sections; the first `max_documents` kept."""
    from ..data import cleaning, corpus

    found: dict[str, str] = {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        docs = corpus.load_corpus(path, split_pattern=headings, strip_gutenberg=True, verbose=False)
        for doc in cleaning.clean_corpus(docs)[0]:
            book = not headings and len(doc.text.split()) > 2 * SECTION_WORDS
            for i, part in enumerate(sections(doc.text) if book else [doc.text]):
                if len(part.split()) >= 300:
                    found[f"{Path(doc.name).stem}#{i}" if book else doc.name] = part
    return dict(list(found.items())[:max_documents])


def book_text(path: Path, words: int | None = None) -> str | None:
    """A population book cleaned (its first `words` words), or None when it is not UTF-8 (a few are not)."""
    from ..data import cleaning, corpus

    try:
        raw = corpus.read_text(path)
    except corpus.CorpusError:
        return None
    raw, _ = corpus.strip_gutenberg(raw)
    if words:  # clean no more than is used: a generous cut, then the exact one
        raw = raw[: words * 8]
    doc, _ = cleaning.clean_document(corpus.Document(path.name, "population", raw, str(path)))
    return " ".join(doc.text.split()[:words]) if words else doc.text


def manifest(root: Path) -> list[dict]:
    return json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))


def essay_like(root: Path) -> dict[str, list[Path]]:
    """The population's essay-like writers: one person each, at least one book titled as essays, lectures,
    sermons, discourses, letters, ... and readable as UTF-8; writer -> those books."""
    out: dict[str, list[Path]] = {}
    for book in manifest(root):
        if ESSAY_TITLES.search(book["title"]) and not book["author"].lower().startswith(NOT_ONE_PERSON):
            if book_text(root / book["f"], 10) is not None:
                out.setdefault(book["author"], []).append(root / book["f"])
    return out


@functools.lru_cache(maxsize=4)
def delta_texts(root: Path) -> dict[str, str]:
    """The first DELTA_WORDS words of each essay-like writer (read once per process)."""
    return {name: " ".join(" ".join(book_text(p, DELTA_WORDS) for p in books).split()[:DELTA_WORDS])
            for name, books in essay_like(root).items()}


def population_pair(root: Path) -> dict:
    """The register-matched pair and placebo, by rule: the nearest pair of essay-like writers by Burrows' Delta;
    the one with fewer words is the author (the control needs at least as much text, to be matched in
    tokens), the other the control; the writer nearest the author after the control is the other voice."""
    from ..data import stylometry

    texts = delta_texts(Path(root))
    first, second, delta = stylometry.nearest_pairs({k: [v] for k, v in texts.items()})[0]
    books = essay_like(Path(root))
    size = {name: sum(len((book_text(p) or "").split()) for p in books[name]) for name in (first, second)}
    author, control = sorted((first, second), key=lambda name: (size[name], name))
    return {"author": author, "control": control, "other_voice": nearest_other(author, {control}, texts),
            "delta": delta, "candidates": len(texts), "books": {n: [p.name for p in books[n]] for n in books}}


def nearest_other(author: str, exclude: set[str], texts: dict[str, str]) -> str:
    """The writer nearest `author` by Delta, other than `exclude`: the other voice (placebo) in her register."""
    from ..data import stylometry

    return next(name for name, _ in stylometry.nearest_to(author, {k: [v] for k, v in texts.items()})
                if name not in exclude)


def generic_writers(root: Path, exclude: set[str], count: int = 32, seed: int = 0) -> dict[str, list[str]]:
    """`count` population writers (one person each, UTF-8, none of `exclude`), chosen with a seed, an excerpt
    of EXCERPT_WORDS words each: the breadth of other people's prose."""
    books = manifest(root)
    random.Random(seed).shuffle(books)
    chosen: dict[str, list[str]] = {}
    for book in books:
        name = book["author"]
        if name in chosen or name in exclude or name.lower().startswith(NOT_ONE_PERSON) or len(chosen) >= count:
            continue
        text = book_text(root / book["f"], EXCERPT_WORDS)
        if text and len(text.split()) >= 300:
            chosen[name] = [text]
    return chosen


# --- splitting and chunking as a run does ----------------------------------------------------------

def split(docs: dict[str, str], seed: int, floor: int, share: float = HELD_OUT) -> tuple[dict, dict]:
    """(training, held-out) documents as the data stage splits them, holding out `share` of them but at least
    `floor` (and at least one kept for training)."""
    from ..data import prepare
    from ..data.corpus import Document

    wanted = min(len(docs) - 1, max(floor, round(share * len(docs))))
    side = prepare.split_documents([Document(n, "writer", t, n) for n, t in docs.items()], wanted / len(docs), seed)
    return ({n: t for n, t in docs.items() if side[n] == prepare.TRAIN},
            {n: t for n, t in docs.items() if side[n] == prepare.VAL})


@functools.lru_cache(maxsize=1)
def chunk_tokenizer():
    """Llama-3.2's tokenizer when installed (what a real run chunks with), else None."""
    from ..llm import tiny

    return tiny.llama_tokenizer() if tiny.llama_tokenizer_file() is not None else None


def rows(docs: dict[str, str], max_tokens: int) -> tuple[list[dict], str]:
    """(rows {"text", "document"} as `pretraining_*.jsonl` holds them, the EOS they end with): chunks of at most
    `max_tokens` Llama-3.2 tokens (lib.data.chunking), or, without its tokenizer, of the words that many tokens
    hold on average."""
    from ..data import chunking
    from .oracle import passages

    tokenizer = chunk_tokenizer()
    if tokenizer is None:
        words = int(max_tokens / TOKENS_PER_WORD)
        return [{"text": p, "document": name} for name, text in docs.items() for p in passages([text], words)
                or [text]], ""
    return [{"text": text, "document": name} for name, doc in docs.items()
            for text, _ in chunking.chunk_text(doc, tokenizer, max_tokens)], tokenizer.eos_token


# --- the pairs ----------------------------------------------------------------------------------------

def from_writers(author: dict[str, str], control: dict[str, str], other: list[str], unseen: list[str],
                 generic: dict[str, list[str]], names: dict[str, str], seed: int, floor: int) -> Sources:
    a_train, a_held = split(author, seed, floor)
    c_train, c_held = split(control, seed, floor)
    return Sources(a_train, a_held, c_train, c_held, other, unseen, generic, names)


def shared_sources(root: Path, seed: int = 0, floor: int = 5) -> Sources:
    """The default pair: Schopenhauer's essays (the author) and Chesterton's (the control: an essayist of the
    same century, nearer Schopenhauer by Delta than plain reference prose is); the other voice is the essay-like
    population writer nearest Schopenhauer by Delta; the unseen voice and the generic side are other
    population writers."""
    population = Path(root) / "population"
    author = writer_documents(Path(root) / "schopenhauer", SCHOPENHAUER_HEADINGS)
    control = writer_documents(Path(root) / "chesterton", CHESTERTON_HEADINGS)
    texts = {"Arthur Schopenhauer": " ".join(" ".join(author.values()).split()[:DELTA_WORDS]),
             **delta_texts(population)}
    other = nearest_other("Arthur Schopenhauer", set(), texts)
    return with_population(author, control, other, population, seed, floor,
                           {"author": "Arthur Schopenhauer", "control": "G. K. Chesterton"})


def population_sources(root: Path, seed: int = 0, floor: int = 5) -> Sources:
    """The register-matched pair the nearest-neighbour rule picks among the population's essay-like writers
    (`population_pair`), with its other voice; generic side and unseen voice from the other writers."""
    population = Path(root) / "population"
    pair = population_pair(population)
    books = essay_like(population)
    author, control = (writer_documents(books[pair[k]]) for k in ("author", "control"))
    return with_population(author, control, pair["other_voice"], population, seed, floor,
                           {"author": pair["author"], "control": pair["control"]})


def with_population(author: dict, control: dict, other: str, population: Path, seed: int, floor: int,
                    names: dict) -> Sources:
    """Complete a pair with the other voice `other` (an essay-like writer's text), an unseen voice (a population
    writer outside the essay-like ones) and the generic side: the other essay-like writers (her register, as a
    generic corpus should be) and population writers, every writer with a role excluded."""
    other_text = list(writer_documents(essay_like(population)[other]).values())
    roles = {names["author"], names["control"], other}
    essays = {name: [" ".join(text.split()[:ESSAY_EXCERPT_WORDS])] for name, text in delta_texts(population).items()
              if name not in roles}
    generic = generic_writers(population, roles | set(delta_texts(population)), seed=seed)
    unseen_name = sorted(generic)[0]
    unseen = [" ".join(t for t in generic.pop(unseen_name))]
    generic.update(essays)
    return from_writers(author, control, other_text, unseen, generic,
                        {**names, "other voice": other, "unseen voice": unseen_name}, seed, floor)


def sample_sources(root: Path, seed: int = 0, floor: int = 5) -> Sources:
    """Without ../shared: the bundled sample author against the bundled control author (data/sample/control/,
    written for the project in her register), the general reference text as the other voice; no unseen voice,
    no generic side (the authorship measure then runs in base-distance mode)."""
    author = writer_documents(Path(root) / "data/sample/complete_corpus.txt")
    control = writer_documents(Path(root) / "data/sample/control/complete_corpus.txt")
    other = [(Path(root) / "data/sample/general_reference.txt").read_text(encoding="utf-8")]
    return from_writers(author, control, other, [], {}, {"author": "the bundled sample author",
                                                         "control": "the bundled control author",
                                                         "other voice": "the general reference text"}, seed, floor)
