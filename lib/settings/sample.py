"""The bundled sample's own files, and never using them quietly with another author's corpus.

The defaults in config.yaml point at the sample author's files (her question-answer pairs, the questions
the side-by-side tables ask) so that the demo runs as shipped. With your own corpus those files are about
someone else: the sample's question-answer file is then left out with a warning (unless you name it
explicitly), and the compare prompts are used with a warning that says how to write your own. (The probe
study refuses another corpus's probes itself: `lib.study.probes.check_belongs`.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..files import storage

CORPUS = "data/sample/complete_corpus.txt"
FILES = {"qa_file": "data/sample/qa_pairs.jsonl", "compare_prompts": "data/prompts/compare.txt"}
YOURS = {
    "qa_file": "write your own question-answer file (JSONL or CSV: question, answer, optionally document) and "
               "set qa_file to it, or set qa_file to null",
    "compare_prompts": "write your own questions, one per line, in a text file and set compare_prompts to it",
}


def same(a: str | Path, b: str | Path) -> bool:
    return storage.resolve(a).resolve() == storage.resolve(b).resolve()


def own_corpus(cfg) -> bool:
    return not same(cfg.corpus, CORPUS)


def in_use(cfg, key: str) -> bool:
    """Whether setting `key` points at the sample author's file while the corpus is someone else's."""
    value = getattr(cfg, key)
    return bool(value) and same(value, FILES[key]) and own_corpus(cfg)


def message(cfg, key: str, action: str = "are used") -> str:
    return (f"{key}: {FILES[key]} holds the sample author's questions, but corpus is yours ({cfg.corpus}); "
            f"they {action}. To fit your author: {YOURS[key]} (docs/corpus.md: Your own corpus, step by step)")


def warn(cfg, *keys: str) -> list[str]:
    """Warn, in one line each, about sample files used with another author's corpus; return the messages."""
    said = [message(cfg, key) for key in keys if in_use(cfg, key)]
    for text in said:
        warnings.warn(text, UserWarning, stacklevel=2)
    return said


def usable(cfg, key: str) -> bool:
    """Whether an optional input should be read: set, and not the sample's file left at its default
    while the corpus is someone else's (then it is skipped, with a warning)."""
    if not getattr(cfg, key):
        return False
    if in_use(cfg, key) and key not in cfg.given:
        warnings.warn(message(cfg, key, action="are not used"), UserWarning, stacklevel=2)
        return False
    return True


# The sample's control author: written for the project in the sample author's register, so a control for her and
# for no one else.
CONTROL = {"control_corpus": "data/sample/control/complete_corpus.txt",
           "control_qa_file": "data/sample/control/qa_pairs.jsonl"}


def control_corpus(cfg) -> str | None:
    """The control corpus to prepare beside the author's: `control_corpus`, except the sample's control left at
    its default beside your own corpus (it is in the sample author's register, not necessarily yours): then
    none, with a warning that says what to do."""
    value = cfg.control_corpus
    if not value or not own_corpus(cfg) or "control_corpus" in cfg.given or not same(value, CONTROL["control_corpus"]):
        return value or None
    warnings.warn(f"control_corpus: {value} is the sample's control author, written in the sample author's register, "
                  f"but corpus is yours ({cfg.corpus}); it is not used. Set control_corpus to another person's writing "
                  "in your author's register (docs/corpus.md: the control author), or name the sample's explicitly",
                  UserWarning, stacklevel=2)
    return None


def control_qa_file(cfg, corpus: str) -> str | None:
    """The control's question-answer file: `control_qa_file`, except the sample control's pairs left at their
    default beside another control corpus (they are his, about his essays): then none, with a warning."""
    value = cfg.control_qa_file
    if (not value or "control_qa_file" in cfg.given or same(corpus, CONTROL["control_corpus"])
            or not same(value, CONTROL["control_qa_file"])):
        return value or None
    warnings.warn(f"control_qa_file: {value} holds the sample's control author's pairs, but control_corpus is "
                  f"{corpus}; they are not used. Set control_qa_file to that author's own pairs, or null",
                  UserWarning, stacklevel=2)
    return None

