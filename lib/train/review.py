"""After a stage: the tuned model beside the base model, on questions and on held-out openings.

Both notebooks of training end this way (02 and 03), so the story lives here: the questions in
`compare_prompts` answered by the base model (adapters off) and the tuned one, and, for stage 1, held-out
openings continued by both. Each table is saved with the stage (`comparison.html/.jsonl`,
`continuations.html/.jsonl`) as the notebook shows it.
"""

from __future__ import annotations

from ..data import processed
from ..files import storage
from ..llm import generation
from ..settings import sample
from ..view import display
from .folders import LABELS


def settings(cfg) -> generation.GenerationSettings:
    return generation.GenerationSettings(max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)


def questions(result, cfg) -> str:
    """The compare prompts, answered by the base model and the tuned one (HTML, also saved)."""
    label = LABELS[result.name]
    sample.warn(processed.in_force(cfg), "compare_prompts")  # the sample's questions put to your author's model
    prompts = generation.read_prompts(storage.resolve(cfg.compare_prompts))
    answers = generation.compare_with_base(result.model, result.tokenizer, prompts, settings(cfg),
                                           chat_date=cfg.chat_date, label=label)
    generation.save_comparison(result.folder, "comparison", prompts, answers, settings(cfg), f"base vs {label}")
    return display.side_by_side(prompts, answers)


def continuations(result, cfg, n: int = 3, chars: int = 400) -> str:
    """The openings of held-out chunks, continued as raw text by the base model and the tuned one."""
    openings = [row["text"][:chars] for row in processed.load_split(cfg, "pretraining")[1][:n]]
    answers = generation.compare_with_base(result.model, result.tokenizer, openings, settings(cfg), chat=False,
                                           label=LABELS[result.name])
    generation.save_comparison(result.folder, "continuations", openings, answers, settings(cfg),
                               "held-out openings")
    return display.side_by_side(openings, answers)
