"""LoRA adapters: their shape, adding them to a frozen base, continuing a saved one, their dtype.

Stage 2 continues stage 1's adapter, so its shape (r, alpha, target modules) is the saved adapter's. A shape
given explicitly for that stage that differs from the adapter's is an error naming both, never silently
replaced: the settings shown are the settings trained.
"""

from __future__ import annotations

import json
from pathlib import Path

# config key -> the adapter_config.json field it becomes
SHAPE_KEYS = {"lora_r": "r", "lora_alpha": "lora_alpha", "lora_target_modules": "target_modules"}


class AdapterMismatch(ValueError):
    """An explicit LoRA setting that conflicts with the adapter being continued."""


def saved_shape(adapter: Path) -> dict:
    saved = json.loads((Path(adapter) / "adapter_config.json").read_text())
    return {"r": saved["r"], "lora_alpha": saved["lora_alpha"], "target_modules": sorted(saved["target_modules"])}


def check_resume_shape(checkpoint: Path | None, shape: dict) -> None:
    """A checkpoint is resumed with the LoRA shape it was saved with; a difference is one line, not the
    trainer's pages of `size mismatch`."""
    if checkpoint is None or not (Path(checkpoint) / "adapter_config.json").exists():
        return
    saved = saved_shape(checkpoint)
    differs = [name for name in SHAPE_KEYS.values() if saved[name] != shape[name]]
    if differs:
        was = ", ".join(f"{n} = {saved[n]!r}" for n in differs)
        now = ", ".join(f"{n} = {shape[n]!r}" for n in differs)
        keys = ", ".join(k for k, n in SHAPE_KEYS.items() if n in differs)
        raise AdapterMismatch(f"{checkpoint} was saved with {was}, this run has {now}; resume with the same "
                              f"{keys}, or start a new run_name")


def lora_settings(cfg, adapter: Path | None = None) -> dict:
    """r, alpha, dropout and targets: from the configuration, or the shape of an adapter being continued."""
    settings = {"r": cfg.lora_r, "lora_alpha": cfg.lora_alpha, "lora_dropout": cfg.lora_dropout,
                "target_modules": sorted(cfg.lora_target_modules)}
    if adapter is None:
        return settings
    shape = saved_shape(adapter)
    for key, name in SHAPE_KEYS.items():
        if key in cfg.given and settings[name] != shape[name]:
            raise AdapterMismatch(
                f"{key} = {settings[name]!r} was set, but the adapter this stage continues ({adapter}) has "
                f"{name} = {shape[name]!r}; leave {key} unset to continue it, or train from the base model "
                "(init_from: base)")
    return {**settings, **shape}


def lora_config(cfg, adapter: Path | None = None):
    from peft import LoraConfig

    return LoraConfig(**lora_settings(cfg, adapter), bias="none", task_type="CAUSAL_LM")


def add_lora(loaded, cfg, gradient_checkpointing: bool, init_adapter: Path | None = None, lean: bool = True):
    """Trainable LoRA adapters on a frozen base; `init_adapter` continues an earlier stage's adapter.

    `lean` keeps the base as loaded (16-bit norms and embeddings, so the residual stream stays 16-bit);
    otherwise PEFT's standard QLoRA preparation upcasts every non-quantised weight to fp32, which costs
    memory and a cast on every layer.
    """
    settings = lora_settings(cfg, init_adapter)
    if loaded.backend == "unsloth":
        from unsloth import FastLanguageModel

        model = FastLanguageModel.get_peft_model(
            loaded.model, **settings, bias="none", random_state=cfg.seed,
            use_gradient_checkpointing="unsloth" if gradient_checkpointing else False)
    else:
        from peft import get_peft_model, prepare_model_for_kbit_training

        model = loaded.model
        if getattr(model, "is_loaded_in_4bit", False) and not lean:
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            for param in model.parameters():
                param.requires_grad = False
            if gradient_checkpointing:
                model.enable_input_require_grads()
        model = get_peft_model(model, lora_config(cfg, init_adapter))
    if init_adapter is not None:
        load_adapter_weights(model, init_adapter)
    return model


def load_adapter_weights(model, adapter: Path) -> None:
    """Copy a saved adapter's weights into a PEFT model with the same LoRA shape (any backend)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(Path(adapter) / "adapter_model.safetensors"))
    result = set_peft_model_state_dict(model, weights)
    if result.unexpected_keys:
        raise AdapterMismatch(f"{adapter}: adapter weights do not fit this model ({result.unexpected_keys[:3]} ...)")


def set_adapter_dtype(model, precision: str, lean: bool) -> None:
    """The LoRA weights' dtype: bf16 when training in bf16 the lean way, otherwise fp32.

    bf16 adapters avoid a cast around every LoRA product. fp16 training (a T4) needs fp32 weights: its
    gradient scaler cannot unscale 16-bit gradients ("not implemented for 'BFloat16'", which is what TRL's
    own cast of quantised models' adapters to bf16 runs into). The plain recipe (lean off) keeps fp32.
    """
    import torch

    target = torch.bfloat16 if lean and precision == "bf16" else torch.float32
    for param in model.parameters():
        if param.requires_grad and param.dtype != target:
            param.data = param.data.to(target)


def parameter_counts(model) -> dict[str, int]:
    """Trainable and total parameters (4-bit weights counted as the numbers they stand for)."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if p.__class__.__name__ == "Params4bit" else 1)
        total += n
        trainable += n if p.requires_grad else 0
    return {"trainable": trainable, "total": total, "trainable_percent": round(100 * trainable / max(total, 1), 4)}
