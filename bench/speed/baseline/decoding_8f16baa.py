"""Fast batched decoding on a GPU: a static KV cache and the decoding step replayed as a CUDA graph.

Hugging Face's `generate` spends most of a decoding step in Python: every token of a batch walks the model's
modules (with LoRA adapters, about 1,500 small kernel launches for a 3B Llama), so a step costs the same
tens of milliseconds whatever the batch. Here the prompts run once (prefill) into a static cache (key/value
tensors of a fixed size), then one decoding step is captured as a CUDA graph and replayed for every new
token: the GPU runs the same kernels back to back with no Python in between. The next token is chosen
outside the graph as `generate` chooses it (the same logits processors, argmax or multinomial), so greedy
outputs are those of the plain path up to the rounding of attention over a longer, masked cache (identical
in fp32 on the tiny model: tests/test_decoding.py; bench/generation.py counts them at the 3B shape).

No torch.compile: compiling the whole model takes a minute and would be paid again for every adapter the
probe study switches to, while capturing a graph costs one decoding step. Used on CUDA for unquantised
models (`supported`); on CPU and for 4-bit models (a T4) `generation.generate` keeps Hugging Face's path.
"""

from __future__ import annotations

import inspect
import warnings

_broken: set[int] = set()  # models whose decoding step could not be captured: they run without graphs


def supported(model) -> bool:
    """CUDA, an unquantised model, and no earlier failure to capture its decoding step."""
    import torch

    if not torch.cuda.is_available() or id(model) in _broken:
        return False
    net = base_model(model)
    quantised = getattr(net, "hf_quantizer", None) is not None or getattr(net, "is_loaded_in_4bit", False)
    sdpa = getattr(net.config, "_attn_implementation", None) == "sdpa"  # the mask below is SDPA's boolean one
    return net.device.type == "cuda" and not quantised and sdpa


def base_model(model):
    """The transformers model under a PEFT wrapper (its LoRA layers are inside it, switched as the wrapper says)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def processors(settings, prompt_length: int, stop_ids):
    """The logits processors `generate` would use for these settings, in its order (`stop_ids`: a tensor on
    the model's device, as `generate` passes them)."""
    from transformers import (LogitsProcessorList, MinNewTokensLengthLogitsProcessor,
                              RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper)

    out = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        out.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
    if settings.min_new_tokens > 0:
        out.append(MinNewTokensLengthLogitsProcessor(prompt_length, settings.min_new_tokens, stop_ids))
    if settings.do_sample:
        if settings.temperature != 1.0:
            out.append(TemperatureLogitsWarper(settings.temperature))
        if settings.top_p < 1.0:
            out.append(TopPLogitsWarper(settings.top_p))
    return out


def decode(model, input_ids, attention_mask, settings, stop_ids: list[int], pad_id: int, graphs: bool = True):
    """New tokens for a left-padded batch: (batch, n <= max_new_tokens), `pad_id` after a row's stop token,
    as `generate` returns them after the prompt. `graphs=False` runs the same loop eagerly (CPU, tests)."""
    import torch
    from transformers import StaticCache

    net = base_model(model)
    # the cache argument was renamed in transformers 5.2x; 5.17 (Colab's unsloth pin) knows only the old name
    cache_arg = "cache" if "cache" in inspect.signature(net.forward).parameters else "past_key_values"
    batch, length = input_ids.shape
    total = length + settings.max_new_tokens
    cache = StaticCache(config=net.config, max_cache_len=total)
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    with torch.no_grad():
        logits = net(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions,
                     use_cache=True, logits_to_keep=1, **{cache_arg: cache}).logits
    # the inputs of one decoding step, in buffers that a graph reads in place
    token = torch.zeros((batch, 1), dtype=torch.long, device=input_ids.device)
    position = positions[:, -1:].clone() + 1
    visible = torch.zeros((batch, 1, 1, total), dtype=torch.bool, device=input_ids.device)
    visible[:, 0, 0, :length] = attention_mask.bool()

    def step():
        return net(input_ids=token, attention_mask=visible, position_ids=position, use_cache=True,
                   **{cache_arg: cache}).logits

    stops = torch.tensor(stop_ids, device=input_ids.device)
    chooser = processors(settings, length, stops)
    sequence = input_ids
    unfinished = torch.ones(batch, dtype=torch.bool, device=input_ids.device)
    new: list = []
    graph = None
    graphs = graphs and input_ids.is_cuda
    for i in range(settings.max_new_tokens):
        scores = chooser(sequence, logits[:, -1].to(copy=True, dtype=torch.float32))
        if settings.do_sample:
            chosen = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)
        else:
            chosen = torch.argmax(scores, dim=-1)
        chosen = torch.where(unfinished, chosen, pad_id)
        new.append(chosen)
        sequence = torch.cat([sequence, chosen[:, None]], dim=-1)
        unfinished &= ~torch.isin(chosen, stops)
        if i + 1 == settings.max_new_tokens or (i % 8 == 7 and not bool(unfinished.any())):
            break  # a host sync every 8 tokens, not every token
        token.copy_(chosen[:, None])
        visible[:, 0, 0, length + i] = True
        with torch.no_grad():
            if graph is not None:
                graph.replay()
            elif graphs and i > 0:
                graph, logits = capture(step)
                if graph is None:
                    graphs = False
                    _broken.add(id(model))
                    logits = step()
                else:
                    graph.replay()
            elif graphs:
                logits = warm_up(step)  # the first step, eagerly on a side stream, as CUDA graphs need
            else:
                logits = step()
        position += 1
    out = torch.stack(new, dim=1)
    if not bool(unfinished.any()):  # like generate: stop at the step where the last row stopped
        steps = torch.arange(out.shape[1], device=out.device).expand_as(out)
        first_stop = torch.where(torch.isin(out, stops), steps, out.shape[1]).min(dim=1).values
        out = out[:, : int(first_stop.max()) + 1]
    return out


def warm_up(step):
    """Run one step on a side stream (libraries set themselves up there, outside the graph to come)."""
    import torch

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        logits = step()
    torch.cuda.current_stream().wait_stream(stream)
    return logits


def capture(step):
    """The decoding step as a CUDA graph and the logits tensor it writes; (None, None) if it cannot be captured
    (a warning says why; generation goes on without graphs)."""
    import torch

    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            logits = step()
    except Exception as exc:  # any op that cannot run inside a graph: fall back, never fail the study
        warnings.warn(f"decoding without CUDA graphs ({type(exc).__name__}: {str(exc)[:200]})", stacklevel=3)
        torch.cuda.synchronize()
        return None, None
    return graph, logits
