"""Loading a base model and its tokenizer: the real hub model on Colab, the tiny stand-in offline, same code.

`model: tiny` resolves to the folder `lib.llm.tiny` builds; anything else is a hub id or a local folder.
Both go through `AutoTokenizer` / `AutoModelForCausalLM.from_pretrained` (or unsloth's loader, when that
backend is chosen). The hub token comes from `lib.colab.hf_token()` (environment or Colab Secrets) and is
handed to the hub client only. Adapters are `lib.train.lora`'s job.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from .. import colab
from ..files import storage
from . import tiny

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
    """The token for hub ids (never for local folders, never logged); the local cache only when the hub
    cannot be reached, so that an offline machine fails at once instead of retrying for most of a minute."""
    if is_local(path):
        return {}
    token = colab.hf_token()
    kwargs = {"token": token} if token else {}
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not hub_reachable():
        kwargs["local_files_only"] = True
    return kwargs


def reachable(address: tuple[str, int], timeout: float) -> bool:
    """Whether `address` (host, port) answers within `timeout` seconds.

    Name lookup and connection run in a helper thread and the answer is awaited for `timeout` seconds in
    all: a resolver that hangs (no network, a dead DNS server) would otherwise block for most of a minute,
    since socket timeouts do not cover the lookup.
    """
    import socket
    import threading

    answer: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout).close()
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, name="reachability-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the hub (or the mirror in HF_ENDPOINT) answers on its port within `timeout` seconds."""
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return reachable((url.hostname, url.port or (80 if url.scheme == "http" else 443)), timeout)


@contextlib.contextmanager
def cache_only(kwargs: dict):
    """While loading from the local cache only, huggingface_hub is told it is offline too: it otherwise
    still fetches small files of its own (a user-agent registry) and waits on the unreachable hub."""
    if not kwargs.get("local_files_only"):
        yield
        return
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def load_tokenizer(cfg):
    """The model's tokenizer, with a pad token that is not EOS (so the end of a turn keeps its label)."""
    from transformers import AutoTokenizer

    path = model_path(cfg)
    with hub_access(cfg, path) as kwargs:
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
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


@contextlib.contextmanager
def hub_access(cfg, path: str):
    """The keyword arguments that load `path` (the token; the cache only, when the hub cannot be reached),
    with huggingface_hub kept offline meanwhile and the hub's errors explained in one line."""
    kwargs = hub_kwargs(path)
    with explain_access_errors(cfg.model), cache_only(kwargs):
        yield kwargs


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

class BackendError(RuntimeError):
    """The configured backend cannot run here (use_unsloth: true without unsloth or without a GPU)."""


@dataclass
class Loaded:
    model: object
    tokenizer: object
    backend: str                     # "unsloth" or "hf"


def choose_backend(cfg) -> str:
    """unsloth when asked for (or `auto`) and it imports on a GPU; otherwise Hugging Face + PEFT."""
    if cfg.use_unsloth is False:
        return "hf"
    import torch

    if not torch.cuda.is_available():
        reason = "no GPU"
    else:
        try:
            import unsloth  # noqa: F401  (patches transformers; must come before models load)

            return "unsloth"
        except Exception as exc:  # noqa: BLE001  (ImportError, NotImplementedError without a GPU, a failed patch:
            reason = f"{type(exc).__name__}: {first_line(str(exc))}"  # each falls back in one line)
    if cfg.use_unsloth is True:
        raise BackendError(f"use_unsloth is true but unsloth cannot be used here ({reason}); install unsloth on a "
                           "GPU machine, or set use_unsloth: auto (falls back) or false")
    if os.environ.get("RANK", "0") == "0":
        print(f"unsloth not used ({reason}): training with Hugging Face transformers + PEFT")
    return "hf"


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def compute_dtype():
    """The default precision as a torch dtype (see `hardware.default_precision`)."""
    from . import hardware

    return hardware.torch_dtype(hardware.default_precision())


def local_device_map():
    """Each process of a data-parallel launch puts its whole model on its own GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    return {"": int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))}


def load_model(cfg, dtype=None, backend: str | None = None, load_in_4bit: bool | None = None,
               attention: str = "sdpa") -> Loaded:
    """The base model and tokenizer through the configured backend (no adapters yet)."""
    backend = backend or choose_backend(cfg)
    dtype = dtype or compute_dtype()
    four_bit = cfg.load_in_4bit if load_in_4bit is None else load_in_4bit
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        path = model_path(cfg)
        with hub_access(cfg, path) as kwargs:
            model, tokenizer = FastLanguageModel.from_pretrained(
                model_name=path, max_seq_length=cfg.max_seq_length, dtype=dtype, load_in_4bit=four_bit,
                **kwargs)
        tokenizer = prepare_tokenizer(tokenizer)
        model.config.pad_token_id = tokenizer.pad_token_id
        return Loaded(model, tokenizer, "unsloth")
    model, tokenizer = load_base(cfg, dtype, four_bit, attention)
    return Loaded(model, tokenizer, "hf")


def load_base(cfg, dtype=None, load_in_4bit: bool | None = None, attention: str = "sdpa"):
    """Hugging Face path: 4-bit NF4 with double quantisation when asked, else 16-bit (fp32 on CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = model_path(cfg)
    dtype = dtype or compute_dtype()
    four_bit = cfg.load_in_4bit if load_in_4bit is None else load_in_4bit
    kwargs: dict = {"dtype": dtype, "attn_implementation": attention}
    if four_bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_storage=torch.uint8)
    if (device_map := local_device_map()) is not None:
        kwargs["device_map"] = device_map
    tokenizer = load_tokenizer(cfg)
    with hub_access(cfg, path) as access:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs, **access)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


STAGE_KEYS = ("config.model", "config.load_in_4bit", "config.chat_date", "config.system_prompt")


def trained_settings(cfg, stage_folder: Path):
    """`cfg` with the model, quantisation and chat settings a finished stage was trained with (its manifest),
    so that loading its adapter later puts it on the same base."""
    manifest = Path(stage_folder) / "manifest.json"
    if not manifest.exists():
        return cfg
    stage = storage.read_record(manifest, STAGE_KEYS, todo="train that stage again (overwrite: true)")
    trained = stage["config"]
    corpus = (stage.get("data") or {}).get("corpus") or cfg.corpus  # the corpus it was trained on, where recorded
    return cfg.replace(model=trained["model"],
                       load_in_4bit=stage.get("plan", {}).get("load_in_4bit", trained["load_in_4bit"]),
                       chat_date=trained["chat_date"], system_prompt=trained["system_prompt"], corpus=corpus)
