"""The probe study: four claims about a model tuned on one person's writings, measured on every arm.

`open_study(cfg)` gathers what every claim needs (the arms, the probe files in `probe_dir`, the processed
data, the authorship measure, the retriever); each claim module (`inextricability`, `steerability`,
`replica`, `domination`) turns it into a `ClaimResult`: measure rows with bootstrap intervals, tables a
reader can judge, and one figure. The researcher edits the probes in data files, never here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import arms as arms_mod
from .. import generation, stats, storage, stylometry, training
from ..retrieval import Retriever

PROBE_FILES = {"questions": "questions.txt", "instructions": "instructions.jsonl", "new_context": "new_context.jsonl",
               "override": "override.jsonl", "author_answers": "author_answers.jsonl",
               "generic_prompts": "generic_prompts.txt"}
REQUIRED_FIELDS = {"instructions": ("id", "question", "instruction", "check"),
                   "new_context": ("id", "question", "new_statement", "corpus_position", "new_markers",
                                   "corpus_markers"),
                   "override": ("id", "question", "instruction"), "author_answers": ("id", "question", "answer")}


class ProbeError(ValueError):
    """A probe file that cannot be used; the message names the file and the line."""


@dataclass
class ClaimResult:
    claim: str
    rows: list[dict]                           # one per (measure, arm): mean, 95% interval, n
    tables: dict[str, str] = field(default_factory=dict)  # titled HTML tables to read
    figure: object = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Study:
    cfg: object
    arms: arms_mod.Arms
    folder: Path
    probes: dict
    train_chunks: list[dict]
    val_chunks: list[dict]
    authorship: stylometry.AuthorshipModel | None
    retriever: Retriever
    greedy: generation.GenerationSettings
    sampling: generation.GenerationSettings
    cache: dict = field(default_factory=dict)

    @property
    def model_arms(self) -> list[str]:
        return list(self.arms.names)

    def ask(self, arm: str, prompts: list[str], probe: str, ids: list | None = None, **kwargs) -> list[str]:
        """Answers of one arm (greedy unless settings are given), cached by probe and arm."""
        key = (probe, arm)
        if key not in self.cache:
            settings = kwargs.pop("settings", self.greedy)
            self.cache[key] = self.arms.generate(arm, prompts, settings, probe=probe, ids=ids, **kwargs)
        return self.cache[key]

    def plain_answers(self, arm: str) -> list[str]:
        """Every arm's answers to the plain questions (claims 1 and 4 share them); retrieval quotes."""
        questions = self.probes["questions"]
        if arm == "retrieval":
            return [self.retriever.answer(q) for q in questions]
        return self.ask(arm, questions, "questions")

    def estimate(self, values) -> stats.Estimate:
        return stats.bootstrap_mean(values, self.cfg.bootstrap_samples, self.cfg.seed)

    def row(self, claim: str, measure: str, arm: str, values=None, note: str = "",
            estimate: stats.Estimate | None = None) -> dict:
        """One line of the results: a measure of an arm, its mean and 95% interval over the probes."""
        e = estimate or self.estimate(values)
        return {"claim": claim, "measure": measure, "arm": arms_mod.LABELS.get(arm, arm), **e.as_dict(),
                "note": note}


# --- loading ------------------------------------------------------------------------------------

def read_probes(folder: Path) -> dict:
    """Every probe file, checked line by line."""
    out = {}
    for key, name in PROBE_FILES.items():
        path = folder / name
        if not path.exists():
            raise ProbeError(f"{path}: probe file missing (see data/probes/README.md)")
        if name.endswith(".txt"):
            out[key] = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                        if line.strip() and not line.startswith("#")]
        else:
            out[key] = []
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
                out[key].append(row)
        if not out[key]:
            raise ProbeError(f"{path}: no probes in the file")
    return out


def open_study(cfg, arms: arms_mod.Arms | None = None) -> Study:
    """Load the arms (base once, adapters on top), the probes, the data, and fit the authorship measure."""
    arms = arms or arms_mod.Arms(cfg)
    probes = read_probes(storage.resolve(cfg.probe_dir))
    train_chunks, val_chunks, _ = training.load_split(cfg, "pretraining")
    eos = arms.tokenizer.eos_token
    greedy = generation.GenerationSettings(max_new_tokens=cfg.probe_max_new_tokens, seed=cfg.seed)
    sampling = generation.GenerationSettings(max_new_tokens=cfg.probe_max_new_tokens, do_sample=True,
                                             seed=cfg.seed)
    folder = arms.run / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    study = Study(cfg, arms, folder, probes, train_chunks, val_chunks, None,
                  Retriever.from_chunks(train_chunks, eos), greedy, sampling)
    study.authorship = fit_authorship(study)
    return study


def fit_authorship(study: Study) -> stylometry.AuthorshipModel:
    """Author: the training-side chunks. Generic: the general text and, with `generic_from_base`, the base
    model's answers to the instruction probes' questions (same topics as the scored questions, other
    questions, no author), so that the measure tells voice apart rather than topic."""
    eos = study.arms.tokenizer.eos_token
    author = [strip_eos(r["text"], eos) for r in study.train_chunks]
    generic = general_texts(study.cfg)
    if study.cfg.generic_from_base:
        questions = [p["question"] for p in study.probes["instructions"]]
        generic += study.ask("base", questions, "generic_base")
    return stylometry.AuthorshipModel(seed=study.cfg.seed).fit(author, generic)


def general_texts(cfg) -> list[str]:
    path = storage.find_input(cfg.general_text)
    if not path.exists():
        raise ProbeError(f"{path}: general reference text not found (general_text in config.yaml)")
    return [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def strip_eos(text: str, eos: str) -> str:
    return text[: -len(eos)] if eos and text.endswith(eos) else text
