"""The probe files: what the study asks, as data the researcher edits (see data/probes/README.md).

Each file is read and checked line by line; a bad line is an error naming the file and the line. A probe
folder says which corpus it was written for (`PROBES.json`): the study refuses to put one author's questions,
"real answers" and statements to a model of another author. Two probe sets are derived, not written: the
completion openings (from the held-out documents) and the DigiDan items (the author's written answers, then
held-out passages with a question each, labelled as such).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import storage

PROBE_FILES = {"questions": "questions.txt", "instructions": "instructions.jsonl", "new_context": "new_context.jsonl",
               "override": "override.jsonl", "author_answers": "author_answers.jsonl",
               "generic_prompts": "generic_prompts.txt"}
REQUIRED_FIELDS = {"instructions": ("id", "question", "instruction", "check"),
                   "new_context": ("id", "question", "new_statement", "corpus_position", "new_markers",
                                   "corpus_markers"),
                   "override": ("id", "question", "instruction"), "author_answers": ("id", "question", "answer")}
MAY_BE_EMPTY = ("new_context", "author_answers")   # only the author can write them: a drafted set leaves them empty
MANIFEST = "PROBES.json"
CONTEXT = 'Here is something I wrote recently:\n"{statement}"\n\n{question}'  # a new-context probe's prompt
# What the study is sized for (power: docs/study.md, "Intervals and their coverage"); fewer is allowed, and reported.
RECOMMENDED = {"questions": 34, "digidan": 50, "per_instruction_kind": 4, "completions": 34}


class ProbeError(ValueError):
    """A probe file that cannot be used; the message names the file and the line."""


def read_probes(folder: Path) -> dict:
    """Every probe file, checked line by line; `lines` holds each JSONL row's line in its file, for the
    messages of later checks (blank lines are skipped, so the row's index is not its line)."""
    out: dict = {"lines": {}}
    for key, name in PROBE_FILES.items():
        path = folder / name
        if not path.exists():
            raise ProbeError(f"{path}: probe file missing (see data/probes/README.md)")
        if name.endswith(".txt"):
            out[key] = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                        if line.strip() and not line.startswith("#")]
        else:
            out[key], out["lines"][key] = [], []
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ProbeError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
                missing = [f for f in REQUIRED_FIELDS[key] if f not in row]
                if missing:
                    raise ProbeError(f"{path}: line {number} lacks {', '.join(missing)}")
                if key == "author_answers" and not str(row["answer"]).strip():
                    continue  # a drafted question the author has not answered yet
                out[key].append(row)
                out["lines"][key].append(number)
        if not out[key] and key not in MAY_BE_EMPTY:
            raise ProbeError(f"{path}: no probes in the file")
    return out


def check_usable(probes: dict, folder: Path, instruction_cap: int) -> None:
    """Refuse instructions that cannot be met (or cannot fail) under the instruction cap, and new-context probes
    whose markers the prompt gives away (one line naming the file and the probe)."""
    from . import checkers, stance

    try:
        lines = probes.get("lines", {})
        checkers.check_probe_file(probes["instructions"], instruction_cap,
                                  path=str(folder / PROBE_FILES["instructions"]), lines=lines.get("instructions"))
        if probes["new_context"]:
            stance.check_probe_file(probes["new_context"], CONTEXT, path=str(folder / PROBE_FILES["new_context"]),
                                    lines=lines.get("new_context"))
    except ValueError as exc:
        raise ProbeError(str(exc)) from None


def manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    return storage.read_json(path) if path.exists() else None


def check_belongs(folder: Path, documents: list[str]) -> None:
    """Refuse probes written for another corpus (the bundled sample's, most often): none of the documents they
    were drafted from is in this run's data."""
    made = manifest(folder)
    if not made or set(made.get("documents", [])) & set(documents):
        return
    files = ", ".join(PROBE_FILES.values())
    raise ProbeError(
        f"{folder}: these probes were written for {made.get('corpus', 'another corpus')}, not for this run's corpus "
        f"({files} would ask another author's questions and compare with her answers); draft your own with "
        f"`python -m lib probes --probe_dir data/my_probes` (or 04's draft_probes = True), add your written "
        "answers and new statements, and set probe_dir to that folder")


def completion_probes(held_out: dict[str, list[str]], limit: int, opening_words: int = 60,
                      continuation_words: int = 150) -> list[dict]:
    """Openings and true continuations from the held-out documents, spread over the documents in turn."""
    per_document = []
    span = opening_words + continuation_words
    for name, parts in held_out.items():
        tokens = " ".join(parts).split()
        per_document.append([{"id": f"{name}@{start}", "document": name,
                              "opening": " ".join(tokens[start:start + opening_words]),
                              "truth": " ".join(tokens[start + opening_words:start + span])}
                             for start in range(0, len(tokens) - span + 1, span)])
    out = []
    while len(out) < limit and any(per_document):
        for probes in per_document:
            if probes and len(out) < limit:
                out.append(probes.pop(0))
    return out


def digidan_sources(written: list[dict], held_out: dict[str, list[str]], limit: int, words: int = 80) -> list[dict]:
    """The real answers of the DigiDan test: the author's written answers first, then held-out passages (whole
    paragraphs, at least `words` words, ending at a sentence end, taken from the documents in turn), each with
    the question a template asks of it and labelled "held-out passage": she wrote it, but not as an answer to
    that question."""
    from ..data.pairs import distinctive_terms

    items = [{"id": row["id"], "question": row["question"], "answer": row["answer"], "source": "written"}
             for row in written]
    per_document = [[(name, passage) for passage in paragraphs("\n\n".join(parts), words)]
                    for name, parts in held_out.items()]
    passages = []
    while any(per_document) and len(items) + len(passages) < limit:
        for found in per_document:
            if found and len(items) + len(passages) < limit:
                passages.append(found.pop(0))
    terms = distinctive_terms([p for _, p in passages]) if passages else []
    asked = {item["question"] for item in items}
    for (name, passage), found in zip(passages, terms):
        question = unique_question(found, asked)
        asked.add(question)
        items.append({"id": f"{name}#{len(items)}", "document": name, "question": question,
                      "answer": passage, "source": "held-out passage"})
    return items[:limit]


def unique_question(terms: list[str], asked: set[str]) -> str:
    """A question on the passage's most distinctive term no other item asks about (then two terms, then a
    numbered one): the machine answers of an item are found by its question, so no two may share one."""
    topics = terms + [f"{terms[0]} and {t}" for t in terms[1:]]
    for topic in topics + [f"this ({len(asked) + 1})"]:
        if (question := f"What is your view on {topic}?") not in asked:
            return question
    return f"What is your view on this ({len(asked) + 1}, again)?"


def paragraphs(text: str, words: int) -> list[str]:
    """Consecutive paragraphs joined until at least `words` words, cut at the first sentence end after that."""
    import re

    out, current = [], []
    for paragraph in [p.strip() for p in text.split("\n\n") if p.strip()]:
        if len(paragraph.split()) < 12 and (not re.search(r"[.!?]$", paragraph) or paragraph.isupper()):
            continue  # a title or heading: not part of anything she said
        current.append(paragraph)
        joined = " ".join(current)
        if len(joined.split()) < words:
            continue
        tokens = joined.split()
        for end in range(words, len(tokens) + 1):
            if re.search(r"[.!?][\"\u201d')]*$", tokens[end - 1]):
                out.append(" ".join(tokens[:end]))
                break
        current = []
    return out


def keep_few(folder: Path, each: int, questions: int, cap: int) -> None:
    """Cut the probe set in `folder` down to a quick one, in place: one instruction probe per kind of check that
    can be met within `cap` tokens (at most three), `each` probes of the other kinds and `questions` questions.
    For smoke runs and tests, where the study's plumbing matters and its sizes do not."""
    from . import checkers

    found = read_probes(folder)
    kinds: dict[str, dict] = {}
    for row in found["instructions"]:
        if checkers.feasible(row["check"], cap) is None:
            kinds.setdefault(row["check"]["kind"], row)
    storage.write_jsonl(folder / "instructions.jsonl", list(kinds.values())[:3])
    for key in ("new_context", "override", "author_answers"):
        storage.write_jsonl(folder / PROBE_FILES[key], found[key][:each])
    storage.write_text(folder / "questions.txt", "\n".join(found["questions"][:questions]) + "\n")
