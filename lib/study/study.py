"""What every claim needs, gathered once: the arms, the probes, the author's text on each side of the split,
the generic side, the authorship measure with its own check, and the retriever.

`open_study(cfg)` reads a trained run; `build` assembles a study from parts, so the same claims run on the
oracle arms of `lib.study.oracle` (texts of known origin), which is how every measure is proven. Each claim
module (`inextricability`, `steerability`, `replica`, `domination`) turns a study into a `ClaimResult`:
measures with one value per probe and arm, tables a reader can judge, and one figure.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..data import processed
from ..files import storage
from ..llm import generation
from . import answers as answers_mod
from . import authorship as authorship_mod
from . import generic as generic_mod
from . import probes as probes_mod
from .measures import Measure
from .retrieval import Retriever

FORGETTING_UNITS = 40         # generic documents read for forgetting, at most (each cut to FORGETTING_WORDS)
FORGETTING_WORDS = 700


@dataclass
class ClaimResult:
    claim: str
    measures: list[Measure]
    tables: dict[str, str] = field(default_factory=dict)  # titled HTML tables to read
    figure: object = None
    notes: list[str] = field(default_factory=list)
    # contrasts a claim computes itself, shaped like measures.contrast_rows' rows (designs the paired table
    # cannot hold: her documents against the control author's); the report adds them to every other contrast
    contrasts: list[dict] = field(default_factory=list)


@dataclass
class Study:
    cfg: object
    arms: object                           # lib.study.arms.Arms, or oracle arms with the same interface
    folder: Path
    probes: dict
    author_train: list[str]                # the author's training-side passages (never scored as "unseen")
    author_held_out: dict[str, list[str]]  # held-out document -> its passages
    generic: dict[str, list[str]]          # other authors -> their texts (empty without a generic corpus)
    general: dict[str, list[str]]          # forgetting units -> texts (generic documents, or the general text)
    retriever: Retriever
    answer: generation.GenerationSettings       # plain answers
    instruction: generation.GenerationSettings  # instruction probes: room to finish the answer
    sampling: generation.GenerationSettings     # DigiDan samples
    authorship: authorship_mod.AuthorshipMeasure | None = None
    check: authorship_mod.Check | None = None
    cache: dict = field(default_factory=dict)
    # the control author (another person in her register, trained the same way): empty without a control corpus
    control_train: list[str] = field(default_factory=list)                # training-side passages
    control_held_out: dict[str, list[str]] = field(default_factory=dict)  # held-out document -> its passages
    verifier: object = None                # lib.study.verifier.Verifier (hers or the control's?), with a control

    @property
    def has_control(self) -> bool:
        return bool(self.control_held_out)
    data: dict = field(default_factory=dict)   # the processed data's record, checked against every arm's training

    @property
    def model_arms(self) -> list[str]:
        return list(self.arms.names)

    @property
    def run_id(self) -> str:
        """The run's name and a hash of its stages' manifests: what the questionnaire page and its key carry."""
        import hashlib

        digest = hashlib.sha256()
        for manifest in sorted(Path(self.arms.run).glob("*/manifest.json")):
            digest.update(manifest.read_bytes())
        return f"{Path(self.arms.run).name}-{digest.hexdigest()[:8]}"

    def ask(self, arm: str, prompts: list, probe: str, ids: list | None = None,
            settings: generation.GenerationSettings | None = None, chat: bool = True) -> list[str]:
        """Answers of one arm (plain settings unless others are given), kept for the session by everything they
        depend on; the arms keep them on disk (`lib.study.answers`)."""
        settings = settings or self.answer
        key = (probe, arm, settings, chat, json.dumps([prompts, ids], sort_keys=True, default=str))
        if key not in self.cache:
            self.cache[key] = self.arms.generate(arm, prompts, settings, probe=probe, ids=ids, chat=chat)
        return self.cache[key]

    def plain_answers(self, arm: str) -> list[str]:
        """Every arm's answers to the plain questions (claims 1 and 4 share them); retrieval quotes passages."""
        questions = self.probes["questions"]
        if arm == "retrieval":
            return [self.retriever.answer(q, k=2) for q in questions]
        return self.ask(arm, questions, "questions", [f"q{i}" for i in range(len(questions))])


    def is_cut(self, answer: str, settings: generation.GenerationSettings) -> bool:
        """Whether an answer ran into its cap rather than ending by itself."""
        return self.arms.was_cut(answer, settings)


# --- assembling a study ------------------------------------------------------------------------------

def by_document(rows: list[dict], eos: str = "") -> dict[str, list[str]]:
    """Document -> its passages (chunks), in order."""
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["document"], []).append(strip_eos(row["text"], eos))
    return found


def build(cfg, arms, folder: Path, probes: dict, train_rows: list[dict], val_rows: list[dict],
          generic: dict[str, list[str]], general: dict[str, list[str]], eos: str = "",
          control_rows: tuple[list[dict], list[dict]] | None = None) -> Study:
    """A study from its parts, with the authorship measure fitted and checked. `control_rows`: the control
    author's (train, validation) rows, prepared like hers."""
    held_out = by_document(val_rows, eos)
    author_train = [strip_eos(r["text"], eos) for r in train_rows]
    batch = 0  # as many answers decoding together as the hardware profile and free memory allow
    answer = generation.GenerationSettings(max_new_tokens=cfg.probe_max_new_tokens, seed=cfg.seed, batch_size=batch)
    study = Study(cfg, arms, folder, probes, author_train, held_out, generic, general,
                  Retriever.from_chunks(train_rows, eos),
                  answer, generation.GenerationSettings(max_new_tokens=cfg.instruction_max_new_tokens, seed=cfg.seed,
                                                        batch_size=batch),
                  generation.GenerationSettings(max_new_tokens=max(cfg.probe_max_new_tokens, cfg.digidan_min_new_tokens),
                                                min_new_tokens=cfg.digidan_min_new_tokens, do_sample=True,
                                                seed=cfg.seed, batch_size=batch))
    if control_rows:
        study.control_train = [strip_eos(r["text"], eos) for r in control_rows[0]]
        study.control_held_out = by_document(control_rows[1], eos)
        study.probes["control_completions"] = probes_mod.completion_probes(study.control_held_out,
                                                                           cfg.completion_probes)
    study.probes["completions"] = probes_mod.completion_probes(held_out, cfg.completion_probes)
    study.probes["digidan"] = probes_mod.digidan_sources(probes["author_answers"], held_out, cfg.digidan_items)
    answers_mod.prepare(study)  # every answer the claims will ask for, made in one pass and stored as it ends
    fit_authorship(study)
    fit_verifier(study)
    return study


def open_study(cfg, arms=None) -> Study:
    """A trained run's study: the arms (base once, adapters on top), its probes, data and generic side."""
    from .arms import Arms

    cfg, data = checked_run(cfg)
    arms = arms or Arms(cfg)
    probe_dir = storage.resolve(cfg.probe_dir)
    probes = probes_mod.read_probes(probe_dir)
    probes_mod.check_usable(probes, probe_dir, cfg.instruction_max_new_tokens)
    probes["author_names"] = (probes_mod.manifest(probe_dir) or {}).get("author_names", [])
    train_rows, val_rows, manifest = processed.load_split(cfg, "pretraining")
    probes_mod.check_belongs(probe_dir, manifest["documents"]["train"] + manifest["documents"]["validation"])
    generic = generic_mod.load_generic(cfg.generic_corpus) if cfg.generic_corpus else {}
    control = None
    if processed.has_control(cfg):
        control_train, control_val, _ = processed.load_split(cfg, "pretraining", processed.CONTROL)
        control = (control_train, control_val)
    folder = arms.run / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    study = build(cfg, arms, folder, probes, train_rows, val_rows, generic, forgetting_units(cfg, generic),
                  arms.tokenizer.eos_token, control)
    study.data = data
    return study


def checked_run(cfg) -> tuple[object, dict]:
    """The configuration with the corpus in force, and the record of the data the study reads, once the run has
    a finished stage (or the base model alone is asked for: `study_base_only`) and that data is what each of
    its stages was trained on (no held-out document trained on). Nothing is loaded or created before."""
    from ..train import provenance

    cfg = processed.in_force(cfg)
    run = storage.run_dir(cfg.run_name)
    stages = provenance.require_finished(run, cfg.study_base_only)
    return cfg, provenance.check_study_data(run, processed.folder(cfg), stages, processed.FILES["pretraining"])


def forgetting_units(cfg, generic: dict[str, list[str]]) -> dict[str, list[str]]:
    """Text nobody tuned on, in units that can be resampled: generic documents (a seeded sample of them, each
    cut to its first FORGETTING_WORDS words), or the general reference text cut at paragraphs."""
    if not generic:
        return generic_mod.general_units(cfg.general_text)
    documents = [(f"{author}/{i}", text) for author, texts in sorted(generic.items()) for i, text in enumerate(texts)]
    random.Random(cfg.seed).shuffle(documents)
    return {name: [" ".join(text.split()[:FORGETTING_WORDS])] for name, text in documents[:FORGETTING_UNITS]}


def fit_authorship(study: Study) -> None:
    """Author: the training-side passages. Generic: other human authors (`generic_corpus`) and, with
    `generic_from_base`, the base model's answers to the instruction probes' questions (same topics as the
    scored questions, other questions, no author); without a generic corpus, those answers alone ("base
    distance" mode). Then the measure's own check on held-out text, at its scoring length."""
    cfg = study.cfg
    base = []
    if (cfg.generic_from_base or not study.generic) and "base" in study.model_arms:
        # questions the measure never scores the base model's answers to: the instruction and new-context ones
        asked = study.probes["instructions"] + study.probes["new_context"]
        base = study.ask("base", [p["question"] for p in asked], "generic_base", [p["id"] for p in asked])
    measure = authorship_mod.AuthorshipMeasure(words=cfg.authorship_words, seed=cfg.seed)
    study.authorship = measure.fit(study.author_train, study.generic, base)
    study.check = measure.check([t for texts in study.author_held_out.values() for t in texts])


def fit_verifier(study: Study) -> None:
    """With a control: the two-author verifier (hers or the control's?) fitted on both authors' training-side
    passages, the generic corpus's writers on the control's side, its threshold calibrated on both authors'
    held-out documents (`lib.study.verifier`)."""
    if not study.has_control:
        return
    from . import verifier

    cfg = study.cfg
    study.verifier = verifier.Verifier(words=cfg.authorship_words, seed=cfg.seed).fit(
        study.author_train, study.control_train, study.generic)
    study.verifier.calibrate(study.author_held_out, study.control_held_out, cfg.bootstrap_samples)


def strip_eos(text: str, eos: str) -> str:
    return text[: -len(eos)] if eos and text.endswith(eos) else text
