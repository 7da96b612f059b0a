"""The study's settings: one flat set of named knobs, read from `config.yaml` and overridden per run.

Why flat: a knob keeps one name everywhere (config key = papermill parameter = CLI flag), so a notebook
cell `model = "tiny"`, the YAML line `model: tiny` and `--model tiny` all mean the same thing. The YAML
groups keys under comments for reading; the loader checks every key and value and names the bad one.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..runtime import scrub
from . import secret


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message names the key."""


# The study's headline: a few contrasts declared before any result is seen, Holm-corrected together over the
# whole declared family (one that cannot be computed counts, with p = 1, and the report names it and why).
PRIMARY_CONTRASTS = [
    # claim 1: the author's arm against the control author's arm (trained alike, in her register) on her unseen
    # documents: what it learned that a register-matched stranger's arm did not (docs: why not the interaction)
    "loss on held-out author text: stage 1 - control stage 1",
    "loss on held-out author text: stage 1 + 2 - control stage 1 + 2",
    # claim 2: steering, against the base model
    "instruction compliance: stage 1 + 2 - base",
    "follows the new statement: stage 1 + 2 - base",
    # claim 3: the two-author verifier's share called hers, her arm against the control's on the same prompts
    "answers called hers, not the control's: stage 1 + 2 - control stage 1 + 2",
    "continuations called hers, not the control's: stage 1 + 2 - control stage 1 + 2",
    # claim 4: stays only if its oracle arms show it says what it claims
    "support by the author's passages: stage 1 + 2 - base",
]
SEVEN_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class Config:
    # model
    model: str = "meta-llama/Llama-3.2-3B-Instruct"
    load_in_4bit: bool = True
    use_unsloth: bool | Literal["auto"] = "auto"
    hardware_profile: Literal["auto", "off", "t4", "l4", "a100", "h100", "gpu", "cpu"] = "auto"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    gradient_checkpointing: bool | Literal["auto"] = "auto"
    attn_implementation: Literal["auto", "sdpa", "flex_attention", "eager"] = "auto"
    use_liger: bool | Literal["auto"] = False
    torch_compile: bool | Literal["auto"] = "auto"
    packing: bool = True
    lean_lora: bool = True
    chat_date: str = "26 Jul 2024"
    system_prompt: str | None = None
    # LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(default_factory=lambda: list(SEVEN_PROJECTIONS))
    # training
    max_seq_length: int = 2048
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 8
    learning_rate: float = 2e-4
    num_train_epochs: float = 3
    max_steps: int = -1
    warmup_ratio: float = 0.03
    lr_scheduler_type: str = "cosine"
    seed: int = 42
    logging_steps: int = 5
    eval_steps: int = 20
    save_steps: int = 50
    save_minutes: float | None = 10
    init_from: Literal["pretraining", "base"] = "pretraining"
    resume: str | None = "auto"
    export_merged: bool = False
    export_gguf: bool = False
    compare_prompts: str | None = "data/prompts/compare.txt"
    max_new_tokens: int = 200
    report_to: Literal["none", "wandb", "tensorboard"] = "none"
    hub_repo: str | None = None
    # data
    corpus: str = "data/sample/complete_corpus.txt"
    split_pattern: str | None = None
    drop_sections: str | None = None
    strip_gutenberg: bool = False
    unwrap_lines: bool = True
    chunk_tokens: int | None = None
    chunk_overlap: int = 0
    val_fraction: float = 0.1
    val_documents: list[str] = field(default_factory=list)
    min_held_out_documents: int = 5
    qa_file: str | None = "data/sample/qa_pairs.jsonl"
    control_corpus: str | None = None
    control_qa_file: str | None = None
    template_pairs_per_document: int = 8
    pair_answer_tokens: int = 256
    backtranslate: bool = False
    backtranslate_curate: bool = True
    processed_dir: str = "data/processed"
    # probe study
    probe_dir: str = "data/probes"
    draft_probes: bool = False
    generic_corpus: str | None = None
    general_text: str = "data/sample/general_reference.txt"
    sample_generic_text: bool = False
    generic_from_base: bool = True
    authorship_words: int = 150
    probe_max_new_tokens: int = 256
    instruction_max_new_tokens: int = 400
    completion_probes: int = 50
    digidan_items: int = 50
    digidan_samples: int = 4
    digidan_min_new_tokens: int = 0
    retrieval_top_k: int = 3
    bootstrap_samples: int = 2000
    judge: bool = False
    questionnaire_arm: str = "instruction"
    questionnaire_responses: str | None = None
    study_base_only: bool = False
    author_name: str | None = None
    questionnaire_purpose: str | None = None
    primary_contrasts: list[str] = field(default_factory=lambda: list(PRIMARY_CONTRASTS))
    # runs
    run_name: str = "main"
    overwrite: bool = False
    # not a knob: the keys set explicitly for this run (notebook parameters, flags, replace()), so that a
    # stage can tell a deliberate choice from a default (a LoRA shape that conflicts with the adapter it
    # continues is an error only when it was asked for)
    given: frozenset = field(default=frozenset(), compare=False, repr=False, metadata={"internal": True})

    def replace(self, **changes: Any) -> "Config":
        """A copy with some knobs changed, validated like a file; the changed keys count as given."""
        return from_dict({**self.as_dict(), **changes}, source="override", given=self.given | set(changes))

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in KEYS}

    @property
    def effective_chunk_tokens(self) -> int:
        return self.chunk_tokens or self.max_seq_length


KEYS = [f.name for f in dataclasses.fields(Config) if not f.metadata.get("internal")]
_HINTS = typing.get_type_hints(Config)


def load_config(path: str | Path = "config.yaml", **overrides: Any) -> Config:
    """Read a YAML file and apply overrides on top; an override of None keeps the file's value.

    This is what every notebook calls right after its `parameters` cell, passing its parameters.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected 'key: value' lines, found {type(raw).__name__}")
    base = from_dict(raw, source=str(path))
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return base
    check_keys(given, source="override")
    return from_dict({**base.as_dict(), **given}, source="override", given=set(given))


def from_parameters(namespace: dict[str, Any]) -> Config:
    """A notebook's configuration from its parameters cell: `cfg = config.from_parameters(globals())`.

    Reads `config_file` and every configuration key defined in `namespace` (the parameters cell defines
    them, papermill's injected cell may change them); a parameter left at None keeps the file's value.
    A secret written out in any cell (papermill's `-p hf_token ...` injects one) stops the notebook.
    """
    try:
        scrub.refuse_in_sources(namespace)
    except scrub.SecretInSource as exc:
        raise ConfigError(str(exc)) from None
    values = {}
    for key in KEYS:
        value = namespace.get(key)
        if isinstance(value, types.ModuleType):
            raise ConfigError(f"notebook: '{key}' names a module, not a setting; import it under another name")
        values[key] = value
    return load_config(namespace.get("config_file", "config.yaml"), **values)


def from_dict(raw: dict[str, Any], source: str = "config", given: set | frozenset = frozenset()) -> Config:
    """Validate a mapping of knobs (unknown keys and wrong types are errors that name the key)."""
    check_keys(raw, source)
    values = {key: coerce(key, value, source) for key, value in raw.items()}
    cfg = Config(**values, given=frozenset(given))
    check_ranges(cfg, source)
    return cfg


def check_keys(raw: dict[str, Any], source: str) -> None:
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{source}: unknown key '{key}'{hint}")


def coerce(key: str, value: Any, source: str = "config") -> Any:
    """Check one value against the field's type; accept the harmless spellings YAML produces. A value shaped
    like an access token is refused, never echoed; `null` (`None`, `~`, '') empties a setting that may be empty.
    """
    hint = _HINTS[key]
    if secret.looks_secret(value):
        raise ConfigError(f"{source}: '{key}' looks like an access token; a token is never a setting: "
                          f"{secret.WHERE}")
    if is_null(value) and type(None) not in typing.get_args(hint) and not _literal(hint, value):
        raise ConfigError(f"{source}: '{key}' cannot be null (it must be {_describe(hint)})")
    try:
        return _coerce(hint, value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}: '{key}' must be {_describe(hint)}, got {value!r}") from None


def check_ranges(cfg: Config, source: str) -> None:
    """Values that have the right type but cannot work."""
    rules = [
        ("lora_r", cfg.lora_r > 0, "a positive integer"),
        ("lora_dropout", 0 <= cfg.lora_dropout < 1, "in [0, 1)"),
        ("max_seq_length", cfg.max_seq_length >= 16, "at least 16"),
        ("per_device_train_batch_size", cfg.per_device_train_batch_size >= 1, "at least 1"),
        ("gradient_accumulation_steps", cfg.gradient_accumulation_steps >= 1, "at least 1"),
        ("learning_rate", cfg.learning_rate > 0, "positive"),
        ("val_fraction", 0 < cfg.val_fraction < 1, "between 0 and 1"),
        ("min_held_out_documents", cfg.min_held_out_documents >= 1, "at least 1"),
        ("chunk_tokens", cfg.chunk_tokens is None or cfg.chunk_tokens >= 16, "at least 16"),
        ("chunk_tokens", cfg.chunk_tokens is None or cfg.chunk_tokens <= cfg.max_seq_length,
         f"at most max_seq_length ({cfg.max_seq_length}); raise max_seq_length too, or leave chunk_tokens null"),
        ("chunk_overlap", 0 <= cfg.chunk_overlap < cfg.effective_chunk_tokens // 2,
         "at least 0 and under half of chunk_tokens"),
        ("max_steps", cfg.max_steps == -1 or cfg.max_steps >= 1, "-1 (no limit) or at least 1"),
        ("logging_steps", cfg.logging_steps >= 1, "at least 1"),
        ("digidan_samples", cfg.digidan_samples >= 1, "at least 1"),
        ("digidan_min_new_tokens", 0 <= cfg.digidan_min_new_tokens <= 4096, "between 0 and 4096"),
        ("retrieval_top_k", cfg.retrieval_top_k >= 1, "at least 1"),
        ("bootstrap_samples", cfg.bootstrap_samples >= 100, "at least 100"),
        ("probe_max_new_tokens", cfg.probe_max_new_tokens >= 8, "at least 8"),
        ("instruction_max_new_tokens", cfg.instruction_max_new_tokens >= 8, "at least 8"),
        ("authorship_words", 20 <= cfg.authorship_words <= 0.75 * cfg.probe_max_new_tokens,
         f"at least 20 and at most what answers of probe_max_new_tokens = {cfg.probe_max_new_tokens} tokens can "
         f"hold (~{int(0.75 * cfg.probe_max_new_tokens)} words)"),
        ("completion_probes", cfg.completion_probes >= 0, "at least 0"),
        ("digidan_items", cfg.digidan_items >= 1, "at least 1"),
        ("eval_steps", cfg.eval_steps >= 1, "at least 1"),
        ("save_steps", cfg.save_steps >= 1, "at least 1"),
        ("save_minutes", cfg.save_minutes is None or cfg.save_minutes > 0, "positive, or null (steps only)"),
        ("template_pairs_per_document", cfg.template_pairs_per_document >= 0, "at least 0"),
        ("pair_answer_tokens", cfg.pair_answer_tokens >= 16, "at least 16"),
        ("hub_repo", cfg.hub_repo is None or cfg.hub_repo.count("/") == 1 and all(cfg.hub_repo.split("/")),
         "null or a Hugging Face repository id 'user/name'"),
        ("run_name", bool(cfg.run_name) and "/" not in cfg.run_name and cfg.run_name not in (".", ".."),
         "a plain folder name"),
    ]
    for key, ok, want in rules:
        if not ok:
            raise ConfigError(f"{source}: '{key}' must be {want}, got {getattr(cfg, key)!r}")


# --- one value against a field's type hint -------------------------------------------------------------
# The spellings YAML, command-line flags and notebook parameters produce ("2e-4", "true", "a,b"), and null. Null
# has one spelling wherever only text can be given: `null` (also `none`, `~` or an empty string), except where
# the word is one of the field's own choices (`report_to: none`).

NULLS = ("null", "none", "~", "")


def is_null(value: Any) -> bool:
    return value is None or isinstance(value, str) and value.strip().lower() in NULLS


def _literal(hint: Any, value: Any) -> bool:
    """Whether `value` is one of the hint's own words (`report_to: none` is a choice, not null)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return any(typing.get_origin(o) is Literal and value in typing.get_args(o) for o in options)


def _coerce(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if is_null(value) and type(None) in args and not _literal(hint, value):
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value)
            except (TypeError, ValueError):
                continue
        raise ValueError
    if origin is Literal:
        if value in args:
            return value
        raise ValueError
    if origin is list:
        if isinstance(value, str):  # "a,b" from a command line
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return [_coerce(args[0], v) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise TypeError
    if hint is int:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError
    if hint is float:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):  # YAML reads "2e-4" (no dot) as a string
            return float(value)
        raise TypeError
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError
    raise TypeError(f"unsupported type {hint}")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if hint is type(None):
        return "null"
    return {bool: "true/false", int: "an integer", float: "a number", str: "text"}.get(hint, str(hint))
