"""Exporting a trained stage: the adapter (always), a merged 16-bit model, GGUF through unsloth.

Merging adds the LoRA update into the base weights. It is done onto a 16-bit copy of the base, never onto
4-bit weights: merging into quantised weights rounds the update away and gives a model that differs from
the one that was evaluated.
"""

from __future__ import annotations

from pathlib import Path

from ..files import storage
from ..llm import models
from . import publish


def merged_dtype():
    """bf16 where the GPU (or CPU) can hold it, fp16 on a T4."""
    import torch

    if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def export_merged(cfg, adapter: Path, out: Path, dtype=None) -> Path:
    """Base in 16-bit + adapter, merged and saved as an ordinary model folder (written atomically)."""
    from peft import PeftModel

    loaded = models.load_model(cfg, dtype=dtype or merged_dtype(), backend="hf", load_in_4bit=False)
    merged = PeftModel.from_pretrained(loaded.model, str(adapter)).merge_and_unload()
    staging = storage.staging_dir(out)
    merged.save_pretrained(str(staging))
    loaded.tokenizer.save_pretrained(str(staging))
    storage.replace_dir(staging, out)
    return out


def export_gguf(cfg, adapter: Path, out: Path, quantization: str = "q4_k_m") -> Path:
    """A GGUF file for llama.cpp / Ollama, through unsloth (which builds llama.cpp: needs network)."""
    try:
        models.choose_backend(cfg.replace(use_unsloth=True))
    except models.BackendError as exc:
        raise models.BackendError(f"GGUF export needs unsloth on a GPU; {exc}") from None
    from unsloth import FastLanguageModel

    with models.hub_access(cfg, cfg.model) as access:
        model, tokenizer = FastLanguageModel.from_pretrained(model_name=str(adapter), load_in_4bit=False,
                                                             max_seq_length=cfg.max_seq_length, **access)
    model.save_pretrained_gguf(str(out), tokenizer, quantization_method=quantization)
    return out


def export_stage(cfg, folder: Path, hub_api=None) -> dict[str, str]:
    """What the configuration asks for, beside the adapter already in `folder/adapter`; with `hub_repo`, the
    adapter and merged model are also pushed to that private repository (`hub_api`: the client, for tests)."""
    done = {"adapter": str(folder / "adapter")}
    if cfg.export_merged:
        done["merged"] = str(export_merged(cfg, folder / "adapter", folder / "merged"))
    if cfg.export_gguf:
        done["gguf"] = str(export_gguf(cfg, folder / "adapter", folder / "gguf"))
    if cfg.hub_repo:
        done.update(publish.push_stage(cfg, folder, done, hub_api))
    return done
