"""Oracle arms: texts whose origin is known, behind the same interface as the real arms, so that every measure
of the study can be shown to say what the report says it says.

Each oracle arm answers a probe with text of a known kind instead of generating:

| arm | answers with | stands for |
|---|---|---|
| replica | unseen passages of the author (her held-out documents) | her arm, perfect |
| regurgitate | her training passages, verbatim | her arm, memorising |
| control_replica | unseen passages of the control author | the control's arm, perfect |
| other_voice | a third writer in her register, used nowhere in training | the placebo: her register, not her |
| unseen_voice | a writer outside her register, nowhere in training | a model that learned nobody |
| blend_0 ... blend_100 | her sentences and the control's mixed in proportion p | a dose of her voice |
| topic_swap | the other voice's passages nearest hers in content words | her topics, not her voice |
| control_topic_swap | the control's unseen passages nearest hers in content words | the control's arm on her prompts |
| short | the first 10-30 words of her passages | answers too short to judge |
| truncating_complier | obeys each instruction, at more length than the plain answer cap allows | compliance |
| quoting_rejecter | quotes the new statement, then rejects it in other words | stance |
| assertive / hedging | her unseen passages with a booster (a hedge) opening every sentence | claim 4's style |
| quoting / half_quoting | the passage retrieval finds for the question (half of it, then her unseen text) | claim 4's support |

The texts come from `lib.study.oracle_sources` (roles, the default and the population-built pair, passages cut
as a real run cuts them). An answer is cut at its cap (`max_new_tokens` at ~0.75 words per token), as a
model's would be. `table` runs the real claim modules on a study of oracle arms and returns measure x arm,
`voice_contrasts` the claim-3 primaries' contrasts between oracle arms; tests/test_oracle.py asserts what each
measure must say there, and `python -m lib.study.oracle [default|population|sample]` prints the tables.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

from . import checkers
from .oracle_sources import (Sources, population_pair, population_sources, rows,  # noqa: F401  (the interface)
                             sample_sources, shared_sources)

BLENDS = (0, 25, 50, 75, 100)
ARMS = ["replica", "regurgitate", "control_replica", "other_voice", "unseen_voice", *[f"blend_{p}" for p in BLENDS],
        "topic_swap", "control_topic_swap", "short", "truncating_complier", "quoting_rejecter", "assertive", "hedging", "quoting",
        "half_quoting"]
CONTROL_ARMS = ("control_replica", "control_topic_swap")
VOICE_ARMS = ["replica", "regurgitate", "control_replica", "other_voice", "unseen_voice", "blend_25", "blend_50",
              "blend_75", "topic_swap", "control_topic_swap"]   # what the voice measures' known truth needs
BOOSTERS = ("Clearly, ", "Certainly, ", "Of course, ", "Indeed, ")
HEDGES = ("Perhaps ", "It may be that ", "I think ", "Possibly ")
# the claim-3 primaries between oracle arms: (arm, against) and what the contrast's truth is
VOICE_TRUTH = [("replica", "control_replica", "her voice against the control's: high"),
               ("regurgitate", "control_replica", "her (memorised) text against the control's: high"),
               ("blend_50", "control_replica", "half her sentences against the control's: about half"),
               ("other_voice", "control_replica", "placebo, her register but not her: not above zero"),
               ("topic_swap", "control_topic_swap", "placebo in her topics, against the control in her topics: "
                "not above zero"),
               ("replica", "control_topic_swap", "her voice against the control's in her topics: high"),
               ("unseen_voice", "control_replica", "nobody in her register: not above zero"),
               ("replica", "blend_50", "more of her voice (a later stage): above zero"),
               ("blend_75", "blend_25", "more of her voice: above zero"),
               ("replica", "regurgitate", "both hers: about zero")]


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

    def __init__(self, sources: Sources, probes: dict, names: list[str] = ARMS, plain_cap: int = 256,
                 retriever=None):
        self.names, self.probes, self.plain_cap, self.retriever = list(names), probes, plain_cap, retriever
        self.run = Path("oracle")
        self.records: list[dict] = []
        self.by_document = {name: passages([text]) for name, text in sources.author_held_out.items()}
        self.pool = {"replica": passages(sources.author_held_out.values()),
                     "regurgitate": passages(sources.author_train.values()),
                     "control_replica": passages(sources.control_held_out.values())
                     or list(sources.control_held_out.values()),  # documents shorter than a passage: whole
                     "other_voice": passages(sources.other), "unseen_voice": passages(sources.unseen)}
        if sources.other:
            self.pool["topic_swap"] = nearest(self.pool["other_voice"], list(sources.author_train.values()))
        if self.pool["control_replica"]:
            self.pool["control_topic_swap"] = nearest(self.pool["control_replica"],
                                                      list(sources.author_train.values()))
        self.mine, self.theirs = sentences(sources.author_held_out.values()), sentences(sources.control_held_out.values())
        # the control's arm answering where each of hers does (DigiDan's foils, claim 3's pairs)
        self.counterparts = {arm: "control_replica" for arm in self.names
                             if arm in VOICE_ARMS + ["blend_0"] and arm not in CONTROL_ARMS
                             and "control_replica" in self.names}

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
            said = [s for s in sentences([rng.choice(self.pool["replica"])]) if 8 <= len(s.split()) <= 40]
            if len(said) < 8:  # too few for a list of points: more of her sentences (a chunk-long passage may have few)
                said += [s for s in self.mine if 8 <= len(s.split()) <= 40][: 8 - len(said)]
            return within_cap(spec, said, 1.3 * self.plain_cap * checkers.WORDS_PER_TOKEN, cap_words(settings))
        if arm == "quoting_rejecter" and probe == "new_context":
            row = next(p for p in self.probes["new_context"] if p["id"] == probe_id)
            return cut(reject(row), settings)
        if arm == "short":
            return " ".join(rng.choice(self.pool["replica"]).split()[: rng.randint(10, 30)])
        if arm.startswith("blend_"):
            return cut(self.blend(int(arm.split("_")[1]) / 100, rng, cap_words(settings)), settings)
        if arm in ("assertive", "hedging"):
            passage = self.pool["replica"][(self.dealt + index) % len(self.pool["replica"])]
            return cut(opened(passage, BOOSTERS if arm == "assertive" else HEDGES, rng), settings)
        if arm in ("quoting", "half_quoting") and self.retriever is not None:
            found = self.retriever.answer(prompt if isinstance(prompt, str) else str(prompt), k=1).split()
            if arm == "half_quoting":
                found = found[: len(found) // 2] + rng.choice(self.pool["replica"]).split()[: len(found) - len(found) // 2]
            return cut(" ".join(found), settings)
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
        """Her sentences with probability p, the control's otherwise, until `words` words."""
        out, n = [], 0
        while n < words:
            sentence = rng.choice(self.mine if rng.random() < p else self.theirs)
            out.append(sentence)
            n += len(sentence.split())
        return " ".join(out)


def opened(text: str, openers: tuple[str, ...], rng: random.Random) -> str:
    """Every sentence of `text` opened by one of `openers` (its first letter lowered): her words, more assertive
    (boosters) or more tentative (hedges) by a known amount."""
    return " ".join(rng.choice(openers) + s[0].lower() + s[1:] if s[:2] != "I " else rng.choice(openers) + s
                    for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s)


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


# --- a study of oracle arms -------------------------------------------------------------------------

def oracle_study(sources: Sources, cfg, probes: dict, folder: Path, names: list[str] = ARMS):
    """A Study over oracle arms: the passages cut into the chunks a real run would read (`oracle_sources.rows`),
    the real measures fitted and checked as for a trained run, the control's side beside hers."""
    from .retrieval import Retriever
    from .study import build

    tokens = cfg.chunk_tokens or cfg.max_seq_length
    train, eos = rows(sources.author_train, tokens)
    held, _ = rows(sources.author_held_out, tokens)
    control = (rows(sources.control_train, tokens)[0], rows(sources.control_held_out, tokens)[0]) \
        if sources.control_held_out else None
    missing = {"unseen_voice": not sources.unseen, "other_voice": not sources.other, "topic_swap": not sources.other,
               "control_replica": control is None, "control_topic_swap": control is None}
    names = [n for n in names if not missing.get(n)]
    arms = OracleArms(sources, probes, names, cfg.probe_max_new_tokens, Retriever.from_chunks(train, eos))
    folder.mkdir(parents=True, exist_ok=True)
    arms.writers = sources.names
    return build(cfg, arms, folder, probes, train, held, sources.generic, {}, eos, control)


def results(study) -> list:
    """Every claim (1-4) run on the oracle arms."""
    from . import domination, inextricability, replica, steerability

    return [claim.run(study) for claim in (inextricability, steerability, replica, domination)]


def voice_results(study) -> list:
    """Only what the voice measures' known truth needs (quicker than `results`): claim 3's two-author verifier
    measures, and the author-versus-generic measure on the same answers beside them."""
    from . import inextricability, voice
    from .study import ClaimResult

    measures, tables, notes = voice.run(study)
    answers = {arm: study.plain_answers(arm) for arm in study.model_arms}
    return [ClaimResult(voice.CLAIM, measures + inextricability.authorship_measures(study, answers, "answers")[:1],
                        tables, None, notes)]


def table(study, found: list | None = None) -> list[dict]:
    """measure x oracle arm: what each measure of claims 1-4 says of texts of known origin."""
    from .measures import arm_rows

    out = []
    for result in found if found is not None else results(study):
        for measure in result.measures:
            for row in arm_rows(measure, study.cfg.bootstrap_samples, study.cfg.seed):
                if measure.verdicts:
                    row["reading"] = measure.verdicts.get(row["arm"], "")
                out.append(row)
    return out


def voice_contrasts(study, found: list) -> list[dict]:
    """Claim 3's primary measures (and the author-versus-generic measure beside them) as paired contrasts between
    oracle arms of known truth (`VOICE_TRUTH`), each row with the truth it must show."""
    from . import voice
    from .measures import contrast_rows

    truth = {(a, b): what for a, b, what in VOICE_TRUTH}
    names = (voice.ANSWERS, voice.CONTINUATIONS, "answers called the author's", "continuations called the author's")
    out = []
    for measure in [m for result in found for m in result.measures if m.name in names]:
        for row in contrast_rows(measure, study.cfg.bootstrap_samples, study.cfg.seed, pairs=list(truth)):
            out.append(dict(row, truth=truth[(row["arm"], row["against"])]))
    return out


def markdown(rows: list[dict], study) -> str:
    """The oracle table as markdown: who played each role, the measures' own checks, then a row per measure and
    a column per oracle arm ("mean (n)")."""
    arms = [a for a in ARMS if any(r["arm"] == a for r in rows)]
    names = list(dict.fromkeys(r["measure"] for r in rows))
    found = {(r["measure"], r["arm"]): r for r in rows}
    writers = getattr(study.arms, "writers", {})
    lines = ["writers: " + "; ".join(f"{role}: {name}" for role, name in writers.items()),
             f"authorship check: {study.check.as_dict()}"]
    if study.verifier is not None and study.verifier.quality is not None:
        lines.append("two-author verifier on held-out documents: " + "; ".join(
            f"{r['figure'].split(' (')[0]} {r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            for r in study.verifier.quality.rows()) + f" (documents {study.verifier.quality.documents}, background "
            f"{len(study.verifier.background)} writers)")
    lines += ["", "| measure | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for name in names:
        cells = []
        for arm in arms:
            r = found.get((name, arm))
            cells.append("" if r is None or r["n"] == 0 else f"{r['mean']:.2f} ({r['n']})"
                         + (f" {r['reading'].split(':')[0]}" if r.get("reading") else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def contrasts_markdown(rows: list[dict]) -> str:
    """The voice contrasts between oracle arms as markdown: a row per contrast, its truth, and per measure the
    difference with its 95% interval (n)."""
    measures = list(dict.fromkeys(r["measure"] for r in rows))
    found = {(r["measure"], r["arm"], r["against"]): r for r in rows}
    lines = ["| contrast | truth | " + " | ".join(measures) + " |", "|---|---|" + "---|" * len(measures)]
    for arm, against, truth in VOICE_TRUTH:
        cells = [found.get((m, arm, against)) for m in measures]
        if any(cells):
            lines.append(f"| {arm} - {against} | {truth} | " + " | ".join(
                "" if c is None else f"{c['mean']:+.2f} [{c['ci_low']:+.2f}, {c['ci_high']:+.2f}] ({c['n']})"
                for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Print the oracle tables of a pair: `default` (Schopenhauer, Chesterton), `population` (the pair the
    nearest-neighbour rule picks) or `sample` (the bundled texts; no ../shared needed)."""
    import argparse
    import tempfile

    from ..files import storage
    from ..settings import config
    from . import probes as probes_mod

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("pair", nargs="?", default="default", choices=["default", "population", "sample"])
    parser.add_argument("--corpora", default=str(storage.PROJECT_ROOT.parent / "shared" / "corpora"))
    args = parser.parse_args()
    root, shared = storage.PROJECT_ROOT, Path(args.corpora)
    sources = {"default": lambda: shared_sources(shared), "population": lambda: population_sources(shared),
               "sample": lambda: sample_sources(root)}[args.pair]()
    cfg = config.load_config(root / "config.yaml", bootstrap_samples=1000,
                             authorship_words=150 if args.pair != "sample" else 60)
    found = probes_mod.read_probes(root / "data" / "probes")
    if args.pair != "sample":
        found["author_answers"] = []  # the sample author's written answers are not this author's
    with tempfile.TemporaryDirectory() as folder:
        study = oracle_study(sources, cfg, found, Path(folder))
        claims = results(study)
        print(markdown(table(study, claims), study) + "\n\n" + contrasts_markdown(voice_contrasts(study, claims)))


if __name__ == "__main__":
    main()
