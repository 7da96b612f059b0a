"""Loading the model and tokenizer: the real hub model on Colab, the tiny stand-in offline, same code.

`model: tiny` resolves to the folder `lib.tiny` builds; anything else is a hub id or a local folder.
Both go through `AutoTokenizer` / `AutoModelForCausalLM.from_pretrained`. The hub token comes from
`lib.colab.hf_token()` (environment or Colab Secrets) and is handed to the hub client only.
"""

from __future__ import annotations

from pathlib import Path

from . import colab, tiny

PAD_TOKEN = "<|finetune_right_pad_id|>"
END_OF_TURN = "<|eot_id|>"


class ModelAccessError(RuntimeError):
    """The model cannot be fetched: no token, licence not accepted, or no network. Says what to do."""


def model_path(cfg) -> str:
    """`tiny` -> the cached tiny model folder (built on first use); otherwise the configured id or folder."""
    if cfg.model == "tiny":
        return str(tiny.ensure_tiny_model())
    return cfg.model


def is_local(path: str) -> bool:
    return Path(path).expanduser().is_dir()


def hub_kwargs(path: str) -> dict:
    """The token for hub ids (never for local folders, never logged)."""
    if is_local(path):
        return {}
    token = colab.hf_token()
    return {"token": token} if token else {}


def load_tokenizer(cfg):
    """The model's tokenizer, with a pad token that is not EOS (so the end of a turn keeps its label)."""
    from transformers import AutoTokenizer

    path = model_path(cfg)
    with explain_access_errors(cfg.model):
        tokenizer = AutoTokenizer.from_pretrained(path, **hub_kwargs(path))
    return prepare_tokenizer(tokenizer)


def prepare_tokenizer(tokenizer):
    if tokenizer.pad_token is None or tokenizer.pad_token == tokenizer.eos_token:
        if PAD_TOKEN in tokenizer.get_vocab():
            tokenizer.pad_token = PAD_TOKEN
        else:  # not a Llama-3 tokenizer: any token other than EOS will do
            tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
    return tokenizer


def stop_token_ids(tokenizer) -> list[int]:
    """Ids that end a generated answer: EOS and, for chat, `<|eot_id|>`."""
    ids = {tokenizer.eos_token_id}
    vocab = tokenizer.get_vocab()
    for token in (END_OF_TURN, "<|eom_id|>", "<|end_of_text|>"):
        if token in vocab:
            ids.add(vocab[token])
    return sorted(i for i in ids if i is not None)


class explain_access_errors:
    """Turn the hub's errors into one message that says what to do."""

    def __init__(self, model: str):
        self.model = model

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, (OSError, ValueError)) or is_local(self.model):
            return False
        text = str(exc).lower()
        name = type(exc).__name__
        if "gated" in text or "401" in text or "403" in text or "token" in text or "Gated" in name:
            raise ModelAccessError(
                f"{self.model}: access refused by the hub; " + colab.TOKEN_HELP.format(model=self.model)) from None
        if "connect" in text or "offline" in text or "resolve" in text or "not a local folder" in text:
            raise ModelAccessError(
                f"{self.model}: cannot reach the Hugging Face hub and the model is not cached here. "
                "Offline, use model='tiny' (the stand-in) or a local model folder.") from None
        return False


# --- models -------------------------------------------------------------------------------------------

def compute_dtype():
    """bf16 where the GPU supports it, fp16 on older GPUs (T4), fp32 on CPU."""
    import torch

    if not torch.cuda.is_available():
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_base(cfg, dtype=None):
    """The base model (4-bit NF4 with double quantisation when `load_in_4bit`), and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = model_path(cfg)
    dtype = dtype or compute_dtype()
    kwargs: dict = {"dtype": dtype}
    if cfg.load_in_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype if dtype != torch.float32 else torch.float32)
    if torch.cuda.is_available():
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    tokenizer = load_tokenizer(cfg)
    with explain_access_errors(cfg.model):
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs, **hub_kwargs(path))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def lora_config(cfg):
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_target_modules), bias="none", task_type="CAUSAL_LM")


def parameter_counts(model) -> dict[str, int]:
    """Trainable and total parameters (4-bit weights counted as the numbers they stand for)."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if p.__class__.__name__ == "Params4bit" else 1)
        total += n
        trainable += n if p.requires_grad else 0
    return {"trainable": trainable, "total": total, "trainable_percent": round(100 * trainable / max(total, 1), 4)}
