"""Oracle arms: texts whose origin is known, behind the same interface as the real arms, so that every measure
of the study can be shown to say what the report says it says.

Each oracle arm answers a probe with text of a known kind instead of generating:

| arm | answers with |
|---|---|
| replica | unseen passages of the author (her held-out documents) |
| regurgitate | her training passages, verbatim |
| other_voice | another author's passages (B, held out of the measure's training) |
| unseen_voice | an author used nowhere in training (C) |
| blend_0 ... blend_100 | her sentences and B's mixed in proportion p |
| topic_swap | B's passages nearest hers in content words |
| short | the first 10-30 words of her passages |
| truncating_complier | obeys each instruction, at more length than the plain answer cap allows |
| quoting_rejecter | quotes the new statement, then rejects it in other words |

An answer is cut at its cap (`max_new_tokens` at ~0.75 words per token), as a model's would be. `table` runs
the real claim modules on a study of oracle arms and returns measure x arm; tests/test_oracle.py asserts what
each measure must say there, and `python -m lib.study.oracle` prints the table.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from . import checkers

BLENDS = (0, 25, 50, 75, 100)
ARMS = ["replica", "regurgitate", "other_voice", "unseen_voice", *[f"blend_{p}" for p in BLENDS], "topic_swap",
        "short", "truncating_complier", "quoting_rejecter"]


@dataclass
class Sources:
    """Texts of known origin: the author's documents on each side of the split, B, C and generic authors."""
    author_train: dict[str, str]          # document -> text (the measure and regurgitation learn from these)
    author_held_out: dict[str, str]       # document -> text (never trained on)
    other: list[str]                      # B's passages, held out of the generic side
    other_train: list[str]                # B's other passages, part of the generic side
    unseen: list[str]                     # C's passages: nowhere in training
    generic: dict[str, list[str]]         # generic author -> texts


def passages(texts, words: int = 260) -> list[str]:
    """Consecutive pieces of about `words` words that end at a sentence end."""
    out = []
    for text in texts:
        tokens = text.split()
        start = 0
        while start + words <= len(tokens):
            end = start + words
            while end < len(tokens) and not re.search(r"[.!?][\"\u201d')]*$", tokens[end - 1]):
                end += 1
            out.append(" ".join(tokens[start:end]))
            start = end
    return out


def sentences(texts) -> list[str]:
    return [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) >= 4]


def stable_random(*key) -> random.Random:
    return random.Random(int(hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:12], 16))


def cap_words(settings) -> int:
    return int(settings.max_new_tokens * checkers.WORDS_PER_TOKEN)


def cut(text: str, settings) -> str:
    """The text up to its cap in words, its own line breaks kept (as a model's answer cut at its cap would be)."""
    limit = cap_words(settings)
    ends = [m.end() for m in re.finditer(r"\S+", text)]
    return text if len(ends) <= limit else text[: ends[limit - 1]]


class OracleArms:
    can_score = False  # no model behind them: perplexity measures are not run on oracle arms

    def __init__(self, sources: Sources, probes: dict, names: list[str] = ARMS, plain_cap: int = 256):
        self.names, self.probes, self.plain_cap = list(names), probes, plain_cap
        self.run = Path("oracle")
        self.records: list[dict] = []
        self.by_document = {name: passages([text]) for name, text in sources.author_held_out.items()}
        self.pool = {"replica": passages(sources.author_held_out.values()),
                     "regurgitate": passages(sources.author_train.values()),
                     "other_voice": passages(sources.other), "unseen_voice": passages(sources.unseen)}
        self.pool["topic_swap"] = nearest(self.pool["other_voice"], list(sources.author_train.values()))
        self.mine, self.theirs = sentences(sources.author_held_out.values()), sentences(sources.other)

    def generate(self, arm: str, prompts: list, settings, *, probe: str, ids=None, chat: bool = True) -> list[str]:
        """Answers to a probe set; passages are dealt from a seeded shuffle of the arm's pool, so that a set of
        answers represents the pool evenly rather than repeating a few passages by chance."""
        self.dealt = stable_random(arm, probe, settings.seed).sample(range(10 ** 6), 1)[0]
        answers = [self.answer(arm, prompt, probe, (ids or [None] * len(prompts))[i], settings, i)
                   for i, prompt in enumerate(prompts)]
        self.records += [{"probe": probe, "id": (ids or [i for i in range(len(prompts))])[i], "arm": arm,
                          "prompt": p, "answer": a} for i, (p, a) in enumerate(zip(prompts, answers))]
        return answers

    def was_cut(self, answer: str, settings) -> bool:
        return len(answer.split()) >= cap_words(settings)

    def answer(self, arm: str, prompt, probe: str, probe_id, settings, index: int = 0) -> str:
        rng = stable_random(arm, probe, prompt, settings.seed)
        if arm == "truncating_complier" and probe == "instructions":
            spec = next(p for p in self.probes["instructions"] if p["id"] == probe_id)["check"]
            said = [s for s in sentences([rng.choice(self.pool["replica"])]) if 8 <= len(s.split()) <= 40] or \
                [s for s in self.mine if 8 <= len(s.split()) <= 40]
            return within_cap(spec, said, 1.3 * self.plain_cap * checkers.WORDS_PER_TOKEN, cap_words(settings))
        if arm == "quoting_rejecter" and probe == "new_context":
            row = next(p for p in self.probes["new_context"] if p["id"] == probe_id)
            return cut(reject(row), settings)
        if arm == "short":
            return " ".join(rng.choice(self.pool["replica"]).split()[: rng.randint(10, 30)])
        if arm.startswith("blend_"):
            return cut(self.blend(int(arm.split("_")[1]) / 100, rng, cap_words(settings)), settings)
        pool = self.pool.get(arm, self.pool["replica"])
        if probe.startswith("digidan") and arm in ("replica", "truncating_complier", "quoting_rejecter"):
            # a perfect replica answers from the same essay as the real answer, never with the real answer itself
            item = next((d for d in self.probes.get("digidan", []) if d["question"] == prompt), {})
            opening = " ".join(item.get("answer", "").split()[:10])
            same = self.by_document.get(item.get("document"), pool)
            pool = [p for p in same if not opening or opening not in " ".join(p.split())] or pool
            return cut(rng.choice(pool), settings)
        return cut(pool[(self.dealt + index) % len(pool)], settings)

    def blend(self, p: float, rng: random.Random, words: int) -> str:
        """Her sentences with probability p, B's otherwise, until `words` words."""
        out, n = [], 0
        while n < words:
            sentence = rng.choice(self.mine if rng.random() < p else self.theirs)
            out.append(sentence)
            n += len(sentence.split())
        return " ".join(out)


def nearest(candidates: list[str], reference: list[str], share: float = 0.2) -> list[str]:
    """The `share` of candidates nearest the reference texts in content words (TF-IDF cosine to their centroid)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit(reference + candidates)
    centre = np.asarray(vectorizer.transform(reference).mean(axis=0)).ravel()
    similarity = vectorizer.transform(candidates) @ centre
    keep = max(10, int(len(candidates) * share))
    return [candidates[i] for i in np.argsort(-similarity)[:keep]]


def comply(spec: dict, source: list[str], words: float = 0) -> str:
    """A whole answer that obeys one verifiable instruction, built from the sentences in `source`, at least
    `words` words long wherever the instruction sets no upper bound on length (to run past a plain answer cap)."""
    kind, p = spec["kind"], spec

    def padding(target: float) -> list[str]:
        out, used = [], 0
        for sentence in source * (1 + int(target) // max(1, sum(len(s.split()) for s in source))):
            if used >= max(target, 1) and len(out) >= 2:
                break
            out.append(sentence)
            used += len(sentence.split())
        return out

    fill = padding(words)
    listed = sum(len(x.split()) for x in source[: p.get("n", len(p.get("keys", [])))])
    text, shorter = " ".join(fill), " ".join(padding(words - listed))  # room for the bullets or the JSON's fields
    if kind == "max_words":
        out = []
        for sentence in source:
            if checkers.count_words(" ".join(out + [sentence])) > p["n"]:
                break
            out.append(sentence)
        return " ".join(out) or " ".join(source[0].split()[: p["n"]])
    builders = {
        "min_words": lambda: " ".join(padding(max(words, p["n"] + 5))),
        "max_sentences": lambda: " ".join(source[: p["n"]]),
        "include_words": lambda: text + " " + " ".join(f"Think of the {w}." for w in p["words"]),
        "forbid_words": lambda: " ".join(s for s in fill if not any(checkers.has_word(s, w) for w in p["words"])),
        "no_commas": lambda: text.replace(",", ""),
        "lowercase": lambda: text.lower(),
        "bullets": lambda: shorter + "\n\nHere are my points:\n" + "\n".join(f"- {s}" for s in source[: p["n"]]),
        "json": lambda: "```json\n" + json.dumps({k: (shorter if i == 0 else s) for i, (k, s) in
                                                  enumerate(zip(p["keys"], source))}, indent=2) + "\n```",
        "end_with": lambda: text + "\n\n" + p["phrase"],
        "title": lambda: "<<A Reading of the Question>>\n\n" + text,
        "paragraphs": lambda: "\n\n".join(" ".join((fill if len(fill) >= 2 * p["n"] else (source * 2)[: 3 * p["n"]])
                                                     [i::p["n"]]) for i in range(p["n"])),
        "postscript": lambda: text + f"\n\n{p.get('marker', 'P.S.')} " + source[-1],
    }
    if kind not in builders:
        raise ValueError(f"no compliant answer for instruction kind {kind!r}")
    return builders[kind]()


def within_cap(spec: dict, source: list[str], words: float, cap: int) -> str:
    """A compliant answer as long as `words` allows but always finished under the cap: an answer cut at its cap
    is excluded from compliance, so the complier must end by itself (its added parts, a postscript or a closing
    phrase, count towards the cap too)."""
    text = comply(spec, source, words)
    while len(text.split()) >= cap and words > 0:
        words -= 10
        text = comply(spec, source, words)
    return text


def reject(row: dict) -> str:
    """Quote the new statement, then reject it and restate the corpus position in her own person."""
    position = re.sub(r"^(?:Her essays|Her essay|She)\s+(?:hold|holds|argue|argues|say|says|are|is)\s+(?:that\s+)?",
                      "", row["corpus_position"].strip(), flags=re.I)
    return (f'You quote me as writing: "{row["new_statement"]}" I do not accept that, and I never have. '
            f"What I hold is this: {position}")


# --- sources of known origin ------------------------------------------------------------------------

SCHOPENHAUER_HEADINGS = r"^[A-Z][A-Z ,;:'-]{2,}[A-Z]\.$"
CHESTERTON_HEADINGS = r"^[A-Z][A-Z ,;:'-]*[A-Z]\.?$"


def documents(path: Path, pattern: str | None) -> dict[str, str]:
    from ..data import cleaning, corpus

    docs = corpus.load_corpus(path, split_pattern=pattern, strip_gutenberg=pattern is not None, verbose=False)
    return {d.name: d.text for d in cleaning.clean_corpus(docs)[0] if len(d.text.split()) >= 300}


def split(docs: dict[str, str], held_out: float, seed: int) -> tuple[dict, dict]:
    names = sorted(docs)
    random.Random(seed).shuffle(names)
    cut = max(1, round(len(names) * held_out))
    return {n: docs[n] for n in names[cut:]}, {n: docs[n] for n in names[:cut]}


def shared_sources(root: Path, generic_authors: int = 48, seed: int = 0) -> Sources:
    """A = Schopenhauer's essays; B = Chesterton's (half on the generic side: the comparable register); C and
    the rest of the generic side = population authors (an excerpt of one book each, chosen with a seed among
    those that are valid UTF-8: the breadth of other people's prose)."""
    from ..data import corpus

    train, held = split(documents(root / "schopenhauer", SCHOPENHAUER_HEADINGS), 0.25, seed)
    chesterton = documents(root / "chesterton", CHESTERTON_HEADINGS)
    b_train, b_held = split(chesterton, 0.5, seed)
    books = json.loads((root / "population" / "MANIFEST.json").read_text())
    random.Random(seed).shuffle(books)
    chosen: dict[str, list[str]] = {}
    for book in books:
        if book["author"] in chosen or len(chosen) > generic_authors:
            continue
        try:
            texts = list(documents(root / "population" / book["f"], None).values())
        except corpus.CorpusError:  # a few population books are not UTF-8
            continue
        if texts:
            chosen[book["author"]] = texts
    unseen = chosen.pop(sorted(chosen)[0])
    # an excerpt of each generic book: the breadth of other people's prose, beside B's register
    generic = {author: [" ".join(" ".join(texts).split()[:2000])] for author, texts in chosen.items()}
    return Sources(train, held, list(b_held.values()), list(b_train.values()), unseen, generic)


def sample_sources(root: Path, seed: int = 0) -> Sources:
    """Without ../shared: A = the bundled sample essays, B = the general reference text (half of it held out),
    no C; the generic side is the other half of the general reference text."""
    train, held = split(documents(root / "data/sample/complete_corpus.txt", None), 0.25, seed)
    general = [p for p in (root / "data/sample/general_reference.txt").read_text(encoding="utf-8").split("\n\n")
               if p.strip()]
    half = len(general) // 2
    return Sources(train, held, ["\n\n".join(general[half:])], ["\n\n".join(general[:half])], [],
                   {"general reference": ["\n\n".join(general[:half])]})


def oracle_study(sources: Sources, cfg, probes: dict, folder: Path, names: list[str] = ARMS):
    """A Study over oracle arms: the real measures, fitted and checked as for a trained run."""
    from .study import build

    rows = lambda docs: [{"text": p, "document": name} for name, text in docs.items()  # noqa: E731
                         for p in passages([text], 120)]
    generic = {**sources.generic, "B (training half)": sources.other_train}
    names = [n for n in names if n != "unseen_voice" or sources.unseen]
    arms = OracleArms(sources, probes, names, cfg.probe_max_new_tokens)
    folder.mkdir(parents=True, exist_ok=True)
    return build(cfg, arms, folder, probes, rows(sources.author_train), rows(sources.author_held_out), generic, {})


def table(study) -> list[dict]:
    """measure x oracle arm: what each measure of claims 1-3 says of texts of known origin."""
    from . import inextricability, replica, steerability
    from .measures import arm_rows

    out = []
    for result in (inextricability.run(study), steerability.run(study), replica.run(study)):
        for measure in result.measures:
            for row in arm_rows(measure, study.cfg.bootstrap_samples, study.cfg.seed):
                if measure.verdicts:
                    row["reading"] = measure.verdicts.get(row["arm"], "")
                out.append(row)
    return out


def markdown(rows: list[dict], study) -> str:
    """The oracle table as markdown: a row per measure, a column per oracle arm ("mean (n)")."""
    arms = [a for a in ARMS if any(r["arm"] == a for r in rows)]
    names = list(dict.fromkeys(r["measure"] for r in rows))
    found = {(r["measure"], r["arm"]): r for r in rows}
    lines = [f"authorship check: {study.check.as_dict()}", "",
             "| measure | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for name in names:
        cells = []
        for arm in arms:
            r = found.get((name, arm))
            cells.append("" if r is None or r["n"] == 0 else f"{r['mean']:.2f} ({r['n']})"
                         + (f" {r['reading'].split(':')[0]}" if r.get("reading") else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
