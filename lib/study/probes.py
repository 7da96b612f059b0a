"""The probe files: what the study asks, as data the researcher edits (see data/probes/README.md).

Each file is read and checked line by line; a bad line is an error naming the file and the line.
"""

from __future__ import annotations

import json
from pathlib import Path

PROBE_FILES = {"questions": "questions.txt", "instructions": "instructions.jsonl", "new_context": "new_context.jsonl",
               "override": "override.jsonl", "author_answers": "author_answers.jsonl",
               "generic_prompts": "generic_prompts.txt"}
REQUIRED_FIELDS = {"instructions": ("id", "question", "instruction", "check"),
                   "new_context": ("id", "question", "new_statement", "corpus_position", "new_markers",
                                   "corpus_markers"),
                   "override": ("id", "question", "instruction"), "author_answers": ("id", "question", "answer")}


class ProbeError(ValueError):
    """A probe file that cannot be used; the message names the file and the line."""


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
