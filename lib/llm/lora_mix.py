"""Several LoRA adapters of one base model in one batch: each row decodes with its own adapter, or none.

The probe study's arms are adapters of one base. Answered one arm at a time, each arm's probes fill a batch
of their own, and the last one is half empty; answered together, every arm fills the same batches. PEFT can
mix adapters in a batch (`adapter_names=`), but it splits each layer's input by adapter with indices built in
Python on every call, which a CUDA graph cannot replay. Here each LoRA layer is given, for as long as mixed
decoding runs, a forward that computes every adapter at once: the adapters' A matrices stacked into one,
a per-row mask that keeps only the row's own adapter's columns, the B matrices stacked likewise, and the
row's scaling:

    result = base(x) + ((x A_all^T) * mask_row) B_all^T * scaling_row

For a row of adapter a this is PEFT's `base(x) + B_a(A_a x) * scaling_a` (the other adapters' columns add
exact zeros); for a base-model row every mask and scaling is zero, which adds nothing. The masks are tensors
updated in place when a slot takes a new row, so the captured decoding step stays valid.

Only plain LoRA on linear layers mixes (no DoRA or other variants, LoRA biases, embedding LoRA or modules
saved whole); `unsupported` says why not, and the study then answers arm by arm.
"""

from __future__ import annotations

import functools


def lora_layers(model) -> list:
    """The model's LoRA layers (PEFT's `LoraLayer`), in module order."""
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


def unsupported(model, adapters: list[str]) -> str | None:
    """Why these adapters cannot be mixed in one batch on this model, or None."""
    if not hasattr(model, "peft_config"):
        return "not a PEFT model"
    from peft.utils.other import AuxiliaryTrainingWrapper

    missing = [a for a in adapters if a not in model.peft_config]
    if missing:
        return f"adapters {missing} not loaded"
    if any(isinstance(m, AuxiliaryTrainingWrapper) for m in model.modules()):
        return "an adapter saves whole modules or trains tokens"
    layers = lora_layers(model)
    if not layers:
        return "no LoRA layers"
    for layer in layers:
        used = [a for a in adapters if a in layer.lora_A]
        if layer.merged:
            return "an adapter is merged into the base"
        if any(a in layer.lora_embedding_A for a in adapters):
            return "LoRA on embeddings"
        if any(a in layer.lora_variant or layer.lora_bias.get(a) for a in used):
            return "a LoRA variant (DoRA, ...) or LoRA bias"
        if any(not hasattr(layer.lora_A[a], "weight") for a in used):
            return "a LoRA layer that is not linear"
    return None


class Mixer:
    """Mixed-adapter decoding for `adapters` (row adapter index i+1 is adapters[i]; 0 is the base model).

    Use as a context manager: LoRA layers compute every adapter (masked by row) while inside."""

    def __init__(self, model, adapters: list[str]):
        import torch

        self.model, self.adapters = model, list(adapters)
        self.groups: dict[tuple, dict] = {}  # layers with the same adapters, ranks and scalings share masks
        self.layers = []
        for layer in lora_layers(model):
            present = [(i + 1, a) for i, a in enumerate(self.adapters) if a in layer.lora_A]
            if not present:
                continue
            key = tuple((i, layer.r[a], float(layer.scaling[a])) for i, a in present)
            A = torch.cat([layer.lora_A[a].weight for _, a in present], dim=0)
            B = torch.cat([layer.lora_B[a].weight for _, a in present], dim=1)
            self.layers.append((layer, A, B, key))
            if key not in self.groups:
                self.groups[key] = self.tables(key, A.dtype, A.device)
        self.slots = 0

    def tables(self, key: tuple, dtype, device) -> dict:
        """Per adapter index: the 0/1 mask over the stacked columns and the scaling (rows gather from these)."""
        import torch

        width = sum(r for _, r, _ in key)
        mask = torch.zeros((len(self.adapters) + 1, 1, width), dtype=dtype, device=device)
        scale = torch.zeros((len(self.adapters) + 1, 1, 1), dtype=dtype, device=device)
        start = 0
        for index, r, scaling in key:
            mask[index, 0, start:start + r] = 1
            scale[index] = scaling
            start += r
        return {"mask_table": mask, "scale_table": scale, "current": None}

    def __enter__(self) -> Mixer:
        for layer, A, B, key in self.layers:
            layer.forward = functools.partial(mixed_forward, layer, A, B, self.groups[key])
        return self

    def __exit__(self, *exc) -> None:
        for layer, *_ in self.layers:
            layer.__dict__.pop("forward", None)

    def allocate(self, slots: int) -> None:
        """Masks and scalings for `slots` decoding rows (every row the base model until set)."""
        import torch

        self.slots = slots
        for group in self.groups.values():
            group["mask"] = torch.zeros((slots, *group["mask_table"].shape[1:]), dtype=group["mask_table"].dtype,
                                        device=group["mask_table"].device)
            group["scale"] = torch.zeros((slots, 1, 1), dtype=group["scale_table"].dtype,
                                         device=group["scale_table"].device)
            group["current"] = (group["mask"], group["scale"])

    def set_rows(self, index, adapters: list[int]) -> None:
        """Decoding rows `index` (a tensor of slots) now belong to these adapters."""
        import torch

        for group in self.groups.values():
            chosen = torch.tensor(adapters, device=group["mask"].device)
            group["mask"][index] = group["mask_table"][chosen]
            group["scale"][index] = group["scale_table"][chosen]

    def prefill_rows(self, adapters: list[int]) -> None:
        """The next forward pass runs prompts of these adapters (one row each)."""
        import torch

        for group in self.groups.values():
            chosen = torch.tensor(adapters, device=group["mask_table"].device)
            group["current"] = (group["mask_table"][chosen], group["scale_table"][chosen])

    def decode_rows(self) -> None:
        """Back to the decoding rows' masks (after a prefill)."""
        for group in self.groups.values():
            group["current"] = (group["mask"], group["scale"]) if "mask" in group else None


def mixed_forward(layer, A, B, group: dict, x, *args, **kwargs):
    """A LoRA layer's output with each row's own adapter (see the module's docstring)."""
    import torch.nn.functional as F

    result = layer.base_layer(x, *args, **kwargs)
    mask, scale = group["current"]
    delta = F.linear(F.linear(x.to(A.dtype), A) * mask, B) * scale
    return (result + delta).to(result.dtype)
