"""Faster LoRA training steps that keep what is learned: each measured in bench/ (docs/performance.md).

- torch.compile of each decoder layer (`torch_compile` in the configuration): fuses the norms, rotary
  embeddings, SwiGLU, LoRA dropout and additions into fewer kernels, and lets flex attention skip the
  blocks where packed chunks would see each other. The layers share one compiled graph.

Compiling needs fixed shapes: packed rows (stage 1's chunks, stage 2's pairs) are padded to `max_seq_length`
when compiled, and a short last batch gets empty rows (a new width per batch recompiles: 750 instead of 16,000
tokens/s at 512). Padded pairs (`packing: false`) run eagerly.

Tried and dropped: one dropout mask shared by q/k/v and by gate/up (no faster eagerly, slower compiled);
skipping PEFT's cast of 16-bit inputs to fp32 adapters under autocast (no measurable change).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def decoder_layers(model) -> list:
    return [m for m in model.modules() if m.__class__.__name__.endswith("DecoderLayer")]


def compile_layers(model) -> None:
    """torch.compile each decoder layer in place (the layers share one graph; compiling happens at the first
    call, inside `eager_fallback`)."""
    for layer in decoder_layers(model):
        layer.compile()


@contextlib.contextmanager
def eager_fallback(enabled: bool = True) -> Iterator[None]:
    """While training: a GPU or driver the compiler cannot handle runs the layers eagerly (with a warning)
    rather than stopping the run (`torch_compile: false` skips compiling altogether). The compiler's setting
    is restored afterwards."""
    if not enabled:
        yield
        return
    import torch

    config = torch._dynamo.config
    before = config.suppress_errors
    config.suppress_errors = True
    try:
        yield
    finally:
        config.suppress_errors = before


def after_training(model) -> None:
    """Back to settings for generation, whose shapes change every token: eager layers and SDPA attention
    (flex attention runs well only compiled)."""
    for layer in decoder_layers(model):
        layer._compiled_call_impl = None  # what nn.Module.compile() set
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", "sdpa") == "flex_attention":
        model.set_attn_implementation("sdpa")
