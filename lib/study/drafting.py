"""Drafting a probe set for the researcher's own corpus, so that the study asks about her writing, not the
sample author's.

What can be drafted from the corpus is drafted: questions about the held-out documents' passages (template
questions on their most distinctive phrases, topped up from the training side), the verifiable instructions
and voice overrides of the bundled set put to those questions, the generic prompts. What only the author can
supply is left as a template with instructions: her written answers to some of the questions (the DigiDan
test's best material) and statements that contradict her essays (the new-context probes). Held-out passages
stand in for written answers until she writes them, labelled as such in the report.

    python -m lib probes --probe_dir data/my_probes      (or draft_probes = True in 04)
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

from ..data import processed
from ..data.pairs import distinctive_terms
from ..files import storage
from . import probes as probes_mod

BUNDLED = storage.PROJECT_ROOT / "data" / "probes"
QUESTION_TEMPLATES = ["What is your view on {term}?", "Why does {term} matter to your argument?",
                      "How would you answer someone who doubts what you say about {term}?",
                      "What do people most often get wrong about {term}?"]
GUIDE = """# Probes drafted for {corpus}

Drafted on {date} from {documents} documents ({held_out} held out). Edit freely: these are data, not code.

- questions.txt: {questions} questions about your held-out passages and your topics. Keep the ones you would
  want a surrogate to ask; add your own (34 or more keep the study's power: see the report's sizes table).
- instructions.jsonl, override.jsonl: the bundled instructions and voices, put to your questions.
- author_answers.jsonl: questions waiting for YOUR written answer (80-150 words each, in your usual voice,
  never published or trained on). Fill in "answer"; rows left empty are ignored. Until you do, the DigiDan
  test uses held-out passages of yours, labelled as such.
- new_context.jsonl: empty. Only you can write these: copy lines from new_context.TEMPLATE.jsonl, one per
  position you hold in your essays, with a short statement in which you say you now hold the opposite, and
  marker phrases (not copied from the statement) that an answer following each side would use.
- PROBES.json says which corpus these probes belong to: the study refuses probes of another corpus.
"""


class DraftError(ValueError):
    """A probe set that cannot be drafted here; the message says why and what to do."""


def draft(cfg, folder: str | Path, overwrite: bool = False) -> Path:
    """Write a probe set for the corpus of `cfg` (its processed data, named as the corpus it was prepared from)
    into `folder`."""
    cfg = processed.in_force(cfg)
    folder = storage.resolve(folder)
    if folder.resolve() == BUNDLED.resolve():
        raise DraftError(f"{folder}: that is the bundled sample's probe set; draft into a folder of your own "
                         "(probe_dir = data/my_probes)")
    if (folder / probes_mod.MANIFEST).exists() and not overwrite:
        raise DraftError(f"{folder}: a probe set is already there; edit it, or draft into another folder")
    train, held, manifest = processed.load_split(cfg, "pretraining")
    questions = draft_questions(held, train, cfg.seed)
    bundled = probes_mod.read_probes(BUNDLED)
    staging = storage.staging_dir(folder)
    try:
        write_lines(staging / "questions.txt", "# Questions every arm answers (drafted; edit freely).", questions)
        reuse(staging / "instructions.jsonl", bundled["instructions"], questions)
        reuse(staging / "override.jsonl", bundled["override"], questions[::-1])
        storage.write_jsonl(staging / "author_answers.jsonl",
                            [{"id": f"written-{i + 1:02d}", "question": q, "answer": ""}
                             for i, q in enumerate(questions[: probes_mod.RECOMMENDED["digidan"]])])
        storage.write_text(staging / "new_context.jsonl", "")
        storage.write_jsonl(staging / "new_context.TEMPLATE.jsonl", bundled["new_context"][:2])
        shutil.copy2(BUNDLED / "generic_prompts.txt", staging / "generic_prompts.txt")
        documents = manifest["documents"]["train"] + manifest["documents"]["validation"]
        storage.write_json(staging / probes_mod.MANIFEST, {
            "corpus": cfg.corpus, "documents": documents, "author_names": [],
            "drafted": datetime.date.today().isoformat(), "held_out": manifest["documents"]["validation"]})
        storage.write_text(staging / "README.md", GUIDE.format(
            corpus=cfg.corpus, date=datetime.date.today().isoformat(), documents=len(documents),
            held_out=len(manifest["documents"]["validation"]), questions=len(questions)))
        storage.replace_dir(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def draft_questions(held: list[dict], train: list[dict], seed: int, target: int = 40) -> list[str]:
    """Template questions on the distinctive phrases of held-out passages first, then of training passages."""
    out: list[str] = []
    for rows in (held, train):
        texts = [r["text"] for r in rows]
        for i, terms in enumerate(distinctive_terms(texts)):
            for term in terms[:1]:
                question = QUESTION_TEMPLATES[(i + seed) % len(QUESTION_TEMPLATES)].format(term=term)
                if question not in out:
                    out.append(question)
            if len(out) >= target:
                return out
    return out


def reuse(path: Path, rows: list[dict], questions: list[str]) -> None:
    """The bundled probes' instructions (or voices), each put to one of the drafted questions in turn."""
    if not questions:
        raise DraftError("no questions could be drafted: the corpus is too small (run 01_data first)")
    storage.write_jsonl(path, [{**row, "question": questions[i % len(questions)]} for i, row in enumerate(rows)])


def write_lines(path: Path, comment: str, lines: list[str]) -> None:
    storage.write_text(path, "\n".join([comment, *lines]) + "\n")


def summary(folder: Path) -> list[dict]:
    """How many probes of each kind a folder holds, against what the study is sized for."""
    found = probes_mod.read_probes(folder)
    return [{"file": name, "probes": len(found[key]),
             "note": "only the author can write these" if key in probes_mod.MAY_BE_EMPTY and not found[key] else ""}
            for key, name in probes_mod.PROBE_FILES.items()]
