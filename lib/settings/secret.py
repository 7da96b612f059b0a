"""What a secret looks like, so that no setting, flag, parameter, message or saved notebook ever carries one.

The Hugging Face token comes from the environment or Colab Secrets and is handed to the hub client only.
Anything else that looks like a token (by its name, by its shape, or by being the value of a secret in the
environment) is refused where it enters (configuration, command line, notebook parameters) and masked in
messages, so that a token pasted into the wrong place is never written into a path, a manifest or a log.
"""

from __future__ import annotations

import os
import re

# names of variables and parameters that hold secrets (hf_token, HF_TOKEN, api_key, WANDB_API_KEY, ...)
SECRET_NAME = re.compile(r"(?:^|_)token$|secret|password|api_?key", re.I)
# values shaped like access tokens: Hugging Face (user and org), OpenAI-style, GitHub, Slack
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9])(?:hf_[A-Za-z0-9]{30,}|api_org_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{30,}"
                         r"|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{20,})")
WHERE = "set HF_TOKEN (or WANDB_API_KEY) in the environment or Colab Secrets (key icon, left bar) instead"
MASK = "[secret removed]"


def environment_secrets() -> set[str]:
    """Values of environment variables whose names say they are secrets (long enough to be real ones)."""
    return {v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 8}


def looks_secret(value: object) -> bool:
    """A string (or list of strings) shaped like a token, or equal to a secret of the environment."""
    if isinstance(value, (list, tuple)):
        return any(looks_secret(v) for v in value)
    if not isinstance(value, str):
        return False
    return bool(TOKEN_SHAPE.search(value)) or any(s in value for s in environment_secrets())


def secrets_in(text: str) -> set[str]:
    """The token-shaped strings and environment secrets that occur in `text`."""
    found = set(TOKEN_SHAPE.findall(text))
    return found | {s for s in environment_secrets() if s in text}


def redact(text: str, also: set[str] | frozenset = frozenset()) -> str:
    """`text` with every secret in it (and the strings in `also`) replaced by a mask."""
    for value in sorted(secrets_in(text) | set(also), key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


ASSIGNMENT = re.compile(r"^[ \t]*(\w+)[ \t]*=[ \t]*(['\"])(.*?)\2[ \t]*(?:#.*)?$", re.M)


def in_cell_sources(namespace: dict) -> tuple[set[str], set[str]]:
    """(names, values) of secrets written literally in this session's cells (IPython's input history):
    token-shaped strings, environment secrets, and strings assigned to secret-named variables."""
    sources = [cell for cell in namespace.get("_ih", []) if isinstance(cell, str)]
    names, values = set(), set()
    for source in sources:
        values |= secrets_in(source)
        for m in ASSIGNMENT.finditer(source):
            if SECRET_NAME.search(m[1]) and len(m[3]) >= 8 or m[3] in values:
                names.add(m[1])
                values.add(m[3])
    return names, values
