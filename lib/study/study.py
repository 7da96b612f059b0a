"""What every claim needs, gathered once: the arms, the probes, the processed data, the authorship measure
and the retriever.

`open_study(cfg)` builds a `Study`; each claim module (`inextricability`, `steerability`, `replica`,
`domination`) turns it into a `ClaimResult`: measure rows with bootstrap intervals, tables a reader can
judge, and one figure. The researcher edits the probes in data files, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import generation, storage
from ..data import processed
from . import arms as arms_mod
from . import stats, stylometry
from .probes import ProbeError, read_probes
from .retrieval import Retriever


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


# --- opening a study ----------------------------------------------------------------------------

def open_study(cfg, arms: arms_mod.Arms | None = None) -> Study:
    """Load the arms (base once, adapters on top), the probes, the data, and fit the authorship measure."""
    arms = arms or arms_mod.Arms(cfg)
    probes = read_probes(storage.resolve(cfg.probe_dir))
    train_chunks, val_chunks, _ = processed.load_split(cfg, "pretraining")
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
