"""Many answers at once: continuous batching over a ring KV cache, the decoding step replayed as a CUDA graph.

The probe study asks thousands of answers of one base model. Decoding is bound by reading the weights
once per step, so a step costs nearly the same for 8 rows as for 200: the more rows decode together, the
more answers per second. Here a fixed number of rows (slots) decode together; when an answer ends (its
stop token, or its token allowance), its slot takes the next waiting prompt (continuous batching), so a
long answer never holds a batch of finished ones. Prompts wait longest first, so the prompts admitted
together (one prefill) are of similar length.

The cache is a ring of `width` columns per row: every decoding step writes every row's key and value at one
column, and each row attends only to its own columns (a boolean mask), so rows admitted at different times
share the cache. Attention over it reads the key/value heads as they are, without copying them per query
head (`gqa_decode_attention`). On a GPU (unquantised model) one decoding step is captured as a CUDA graph
and replayed (no Python per token: with LoRA layers a step is about 1,500 kernels); elsewhere (CPU, a 4-bit
model on a T4) the same loop runs eagerly.

Tokens are chosen as Hugging Face's `generate` chooses them (the logits in fp32, repetition penalty, the
minimum length, temperature and top-p), so greedy answers are `generate`'s (identical in fp32 on the tiny
model: tests/test_decoding.py). Sampling draws each row from its own seeded stream (Gumbel noise from a
hash of the row's seed, its token count and the vocabulary index): a sampled answer depends on its seed
alone, not on which rows shared its batch, so a resumed study makes the answers an uninterrupted one makes.

No torch.compile: compiling takes a minute per shape; capturing a graph costs one decoding step.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from . import choosing
from .choosing import Choice  # noqa: F401  (how a pool chooses tokens: part of this module's interface)

SYNC_STEPS = 8          # the host looks at which rows finished every this many steps (one sync, not one per token)
PREFILL_TOKENS = 8192   # prompt tokens run through the model at once when slots are filled
HANDOVER_SECONDS = 10.0  # finished answers are handed over (stored) once a batch's worth is done, or this often
DECODE_ATTENTION = "p4_gqa_decode"

_broken: set[int] = set()  # models whose decoding step could not be captured: they decode without graphs


@dataclass
class Job:
    """One answer to make: the prompt's token ids, its allowance of new tokens, its sampling seed and (with
    mixed adapters, `lib.llm.lora_mix`) the index of its adapter (0: the base model)."""
    ids: list[int]
    max_new_tokens: int
    seed: int = 0
    adapter: int = 0


def supported(model) -> bool:
    """Graphs: CUDA, an unquantised model, and no earlier failure to capture its decoding step."""
    import torch

    if not torch.cuda.is_available() or id(model) in _broken:
        return False
    net = base_model(model)
    quantised = getattr(net, "hf_quantizer", None) is not None or getattr(net, "is_loaded_in_4bit", False)
    return net.device.type == "cuda" and not quantised


def base_model(model):
    """The transformers model under a PEFT wrapper (its LoRA layers are inside it, switched as the wrapper says)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def kv_bytes_per_token(config, dtype_bytes: int = 2) -> int:
    """Bytes of key and value cache per token of one row, over all layers."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * heads * dim * dtype_bytes


# --- attention of one new token over the ring ---------------------------------------------------------

def gqa_decode_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """Attention of one query token per row, the query heads grouped by the key/value head they share.

    Hugging Face's SDPA path copies every key/value head once per query head when a mask is given
    (`repeat_kv`): at 200 rows of 600 columns that is gigabytes per step. Here the query heads of a group
    become the query positions of one SDPA call over their key/value head, which reads the cache once."""
    import torch

    rows, heads, length, dim = query.shape
    groups = key.shape[1]
    if length != 1 or groups == heads:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    grouped = query.reshape(rows, groups, heads // groups, dim)
    out = torch.nn.functional.scaled_dot_product_attention(grouped, key, value, attn_mask=attention_mask,
                                                           scale=scaling)
    return out.reshape(rows, heads, 1, dim).transpose(1, 2).contiguous(), None


def register_attention() -> None:
    """Make `gqa_decode_attention` known to transformers by name (done once, when decoding first runs)."""
    from transformers import AttentionInterface

    AttentionInterface.register(DECODE_ATTENTION, gqa_decode_attention)


class Ring:
    """The decoding steps' key/value cache: per layer (rows, kv heads, width, head dim). A step writes every
    row's new key and value at column `column` (a tensor, so that a captured graph reads it in place)."""

    def __init__(self, layers: int, rows: int, heads: int, width: int, dim: int, dtype, device):
        import torch

        shape = (rows, heads, width, dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.column = torch.zeros(1, dtype=torch.long, device=device)

    def update(self, key_states, value_states, layer_idx: int, *args, **kwargs):
        self.keys[layer_idx].index_copy_(2, self.column, key_states)
        self.values[layer_idx].index_copy_(2, self.column, value_states)
        return self.keys[layer_idx], self.values[layer_idx]


# --- the engine ---------------------------------------------------------------------------------------------

class Decoder:
    """Decodes jobs in `slots` rows; `on_finished([(job index, new token ids)])` is called as answers end."""

    def __init__(self, model, jobs: list[Job], choice: Choice, stop_ids: list[int], pad_id: int, slots: int,
                 graphs: bool, mixer=None, on_finished: Callable | None = None, on_timing: Callable | None = None,
                 width: int = 0):
        import torch

        self.model, self.net, self.jobs, self.pad = model, base_model(model), jobs, pad_id
        self.device = self.net.device
        self.slots = max(1, min(slots, len(jobs)))
        self.width = max(width, max(len(j.ids) for j in jobs) + max(j.max_new_tokens for j in jobs) + SYNC_STEPS + 1)
        self.graphs = graphs and self.device.type == "cuda"
        self.mixer, self.on_finished, self.on_timing = mixer, on_finished, on_timing
        self.stops = torch.tensor(stop_ids, device=self.device)
        self.chooser = choosing.Chooser(choice, self.stops, self.net.config.vocab_size, self.device)
        self.penalty = choice.repetition_penalty != 1.0
        self.waiting = sorted(range(len(jobs)), key=lambda i: (-len(jobs[i].ids), i))  # popped from the end
        self.waiting.reverse()
        self.occupant = [-1] * self.slots  # job index per slot, -1 free
        self.admitted = [0] * self.slots   # the step at which each slot's answer had its first token
        self.ring = None
        self.graph = None
        self.cache_arg = None
        self.column = 0  # where the next decoding step writes (host copy of ring.column)
        self.steps = 0
        self.pending: list = []  # finished answers not yet handed over
        self.handed = 0.0        # when answers were last handed over

    # buffers are made at the first admission, when the cache's dtype is known
    def allocate(self, dtype) -> None:
        import torch

        cfg, s, w, dev = self.net.config, self.slots, self.width, self.device
        heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.ring = Ring(cfg.num_hidden_layers, s, heads, w, dim, dtype, dev)
        self.token = torch.full((s, 1), self.pad, dtype=torch.long, device=dev)
        self.position = torch.zeros((s, 1), dtype=torch.long, device=dev)
        self.visible = torch.zeros((s, 1, 1, w), dtype=torch.bool, device=dev)
        longest = max(j.max_new_tokens for j in self.jobs)
        self.out = torch.full((s, longest + 1), self.pad, dtype=torch.long, device=dev)  # last column: scratch
        self.counts = torch.zeros(s, dtype=torch.long, device=dev)
        self.budget = torch.zeros(s, dtype=torch.long, device=dev)
        self.seeds = torch.zeros(s, dtype=torch.long, device=dev)
        self.live = torch.zeros(s, dtype=torch.bool, device=dev)  # holds an answer not yet finished
        self.done = torch.zeros(s, dtype=torch.bool, device=dev)
        self.history = torch.full((s, w), self.pad, dtype=torch.long, device=dev) if self.penalty else None
        self.rows = torch.arange(s, device=dev)
        if self.mixer is not None:
            self.mixer.allocate(s)

    def run(self) -> None:
        import torch

        timed_from, timed_steps = None, 0
        self.handed = time.perf_counter()
        with torch.no_grad():
            while self.waiting or any(o >= 0 for o in self.occupant):
                self.admit()
                for _ in range(self.steps_to_sync()):
                    self.step()
                self.collect()
                if self.graph is not None or not self.graphs:  # time steady steps only (capture done)
                    if timed_from is None:
                        if self.device.type == "cuda":
                            torch.cuda.synchronize()
                        timed_from, timed_steps = time.perf_counter(), self.steps
                    elif self.on_timing and self.steps - timed_steps >= 2 * SYNC_STEPS:
                        self.on_timing((time.perf_counter() - timed_from) / (self.steps - timed_steps), self.slots)
                        self.on_timing = None
        self.hand_over()

    def steps_to_sync(self) -> int:
        """Steps until the host next looks: SYNC_STEPS, or fewer where an answer reaches its allowance sooner."""
        left = [self.jobs[j].max_new_tokens - (self.steps - self.admitted[s] + 1)
                for s, j in enumerate(self.occupant) if j >= 0]
        return max(1, min([SYNC_STEPS, *left]))

    def admit(self) -> None:
        """Fill free slots with waiting prompts: when enough are free to make a prefill worth it (a prefill is
        a whole forward pass), or when nothing else is decoding."""
        free = [s for s, o in enumerate(self.occupant) if o < 0]
        busy = self.slots - len(free)
        if not free or not self.waiting or (busy and len(free) < max(1, self.slots // 8) and
                                            len(free) < len(self.waiting)):
            return
        chosen = []
        while free and self.waiting:
            chosen.append((free.pop(0), self.waiting.pop()))
        start = 0
        while start < len(chosen):  # prefill in pieces of at most PREFILL_TOKENS prompt tokens
            longest = len(self.jobs[chosen[start][1]].ids)
            count = max(1, min(len(chosen) - start, PREFILL_TOKENS // max(1, longest)))
            self.prefill(chosen[start:start + count])
            start += count

    def prefill(self, pairs: list[tuple[int, int]]) -> None:
        """Run the prompts (left-padded) through the model, put their keys and values into their slots' ring
        columns just before the next decoding step's column, and choose each row's first token."""
        import torch
        from transformers import DynamicCache

        slots = [s for s, _ in pairs]
        jobs = [self.jobs[j] for _, j in pairs]
        width = max(len(j.ids) for j in jobs)
        ids = torch.full((len(jobs), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for row, job in enumerate(jobs):
            ids[row, width - len(job.ids):] = torch.tensor(job.ids)
            mask[row, width - len(job.ids):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        cache_arg = self.cache_name()
        cache = DynamicCache(config=self.net.config)
        with mixed_rows(self.mixer, [j.adapter for j in jobs]):
            logits = self.net(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                              logits_to_keep=1, **{cache_arg: cache}).logits[:, -1]
        layers = cache_layers(cache)
        if self.ring is None:
            self.allocate(layers[0][0].dtype)
        index = torch.tensor(slots, device=self.device)
        columns = (self.column - width + torch.arange(width, device=self.device)) % self.width
        heads = torch.arange(layers[0][0].shape[1], device=self.device)
        where = (index[:, None, None], heads[None, :, None], columns[None, None, :])
        for layer, (keys, values) in enumerate(layers):
            self.ring.keys[layer][where] = keys
            self.ring.values[layer][where] = values
        self.visible[index] = False
        self.visible[index[:, None], 0, 0, columns[None, :]] = mask.bool()
        if self.penalty:
            self.history[index[:, None], columns[None, :]] = ids
        if self.mixer is not None:
            self.mixer.set_rows(index, [j.adapter for j in jobs])
        self.position[index] = mask.sum(-1, keepdim=True) - 1
        self.counts[index] = 0
        self.budget[index] = torch.tensor([j.max_new_tokens for j in jobs], device=self.device)
        self.seeds[index] = torch.tensor([j.seed & 0xFFFFFFFF for j in jobs], device=self.device)
        self.live[index] = True
        self.done[index] = False
        history = seen = None
        if self.penalty:
            history, seen = self.history[index], self.visible[index, 0, 0]
        chosen = self.chooser(logits, self.counts[index], self.seeds[index], history, seen)
        self.record(index, chosen)
        for s, (_, j) in zip(slots, pairs):
            self.occupant[s] = j
            self.admitted[s] = self.steps

    def record(self, index, chosen) -> None:
        """Write the chosen tokens of rows `index` as their next new tokens and mark the rows that end here;
        the token becomes the next step's input."""
        import torch

        live = self.live[index] & ~self.done[index]
        at = torch.where(live, self.counts[index], self.out.shape[1] - 1)
        self.out[index, at] = torch.where(live, chosen, self.pad)
        counts = self.counts[index] + live.long()
        self.counts[index] = counts
        self.done[index] = self.done[index] | (live & (torch.isin(chosen, self.stops) | (counts >= self.budget[index])))
        self.token[index, 0] = chosen
        self.position[index] += 1

    def cache_name(self) -> str:
        # the cache argument was renamed in transformers 5.2x; 5.17 (Colab's unsloth pin) knows only the old name
        if self.cache_arg is None:
            import inspect

            self.cache_arg = "cache" if "cache" in inspect.signature(self.net.forward).parameters else "past_key_values"
        return self.cache_arg

    def forward_step(self):
        """One decoding step of every slot (eager): the logits of each row's next token."""
        with decode_attention(self.net):
            return self.net(input_ids=self.token, attention_mask=self.visible, position_ids=self.position,
                            use_cache=True, **{self.cache_name(): self.ring}).logits[:, -1]

    def step(self) -> None:
        """Write at the current column for every slot, attend over each row's own columns, choose."""
        self.ring.column.fill_(self.column)
        self.visible[:, 0, 0, self.column] = True
        if self.penalty:
            self.history[:, self.column] = self.token[:, 0]
        logits = self.run_step()
        history = seen = None
        if self.penalty:
            history, seen = self.history, self.visible[:, 0, 0]
        self.record(self.rows, self.chooser(logits, self.counts, self.seeds, history, seen))
        self.column = (self.column + 1) % self.width
        self.steps += 1

    def run_step(self):
        """The step through the CUDA graph once captured (the first steps run eagerly: the first on a side
        stream to set libraries up, the second captured), otherwise eagerly."""
        import torch

        if self.graph is not None:
            self.graph.replay()
            return self.graph_logits
        if not self.graphs:
            return self.forward_step()
        if not getattr(self, "warmed", False):
            self.warmed = True
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                logits = self.forward_step()
            torch.cuda.current_stream().wait_stream(stream)
            return logits
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                logits = self.forward_step()
        except Exception as exc:  # an op that cannot run inside a graph: decode eagerly, never fail the study
            warnings.warn(f"decoding without CUDA graphs ({type(exc).__name__}: {str(exc)[:200]})", stacklevel=2)
            torch.cuda.synchronize()
            self.graphs = False
            _broken.add(id(self.model))
            return self.forward_step()
        self.graph, self.graph_logits = graph, logits
        graph.replay()
        return logits

    def collect(self) -> None:
        """Collect the answers that ended (one host sync), free their slots, hand them over in batches."""
        import torch

        ended = (self.live & self.done).nonzero().flatten().tolist()
        if not ended:
            return

        index = torch.tensor(ended, device=self.device)
        rows, counts = self.out[index].tolist(), self.counts[index].tolist()
        self.live[index] = False
        for slot, row, count in zip(ended, rows, counts):
            self.pending.append((self.occupant[slot], row[:count]))
            self.occupant[slot] = -1
        if len(self.pending) >= self.slots or time.perf_counter() - self.handed >= HANDOVER_SECONDS:
            self.hand_over()

    def hand_over(self) -> None:
        """Give the finished answers to `on_finished` (to be stored): a batch's worth at a time, or every
        HANDOVER_SECONDS, and at the end; a crash loses at most those not yet handed over."""
        if self.pending and self.on_finished:
            self.on_finished(self.pending)
        self.pending, self.handed = [], time.perf_counter()


def cache_layers(cache) -> list[tuple]:
    """(keys, values) per layer of a filled DynamicCache (transformers 5.x; `key_cache` in older versions)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))


class decode_attention:
    """While a decoding step runs, the model's attention is `gqa_decode_attention` (prefill keeps its own)."""

    def __init__(self, net):
        self.config = net.config

    def __enter__(self):
        self.before = self.config._attn_implementation
        self.config._attn_implementation = DECODE_ATTENTION

    def __exit__(self, *exc):
        self.config._attn_implementation = self.before


class mixed_rows:
    """With mixed adapters, the rows of a prefill use these adapters; a no-op without a mixer."""

    def __init__(self, mixer, adapters: list[int]):
        self.mixer, self.adapters = mixer, adapters

    def __enter__(self):
        if self.mixer is not None:
            self.mixer.prefill_rows(self.adapters)

    def __exit__(self, *exc):
        if self.mixer is not None:
            self.mixer.decode_rows()


def decode(model, jobs: list[Job], choice: Choice, stop_ids: list[int], pad_id: int, slots: int,
           graphs: bool | None = None, mixer=None, on_finished: Callable | None = None,
           on_timing: Callable | None = None, width: int = 0) -> list[list[int]]:
    """New token ids of every job, in the jobs' order (each ends with its stop token, or at its allowance).

    `graphs` (default: where `supported`) replays the decoding step as a CUDA graph. `on_finished` receives
    [(job index, ids)] as answers end; `on_timing(seconds per step, slots)` once, after the first steady
    steps. `width`: cache columns at least (a benchmark's wider cache; the jobs' need otherwise)."""
    if not jobs:
        return []
    register_attention()
    out: list[list[int] | None] = [None] * len(jobs)

    def finished(items):
        for index, ids in items:
            out[index] = ids
        if on_finished:
            on_finished(items)

    graphs = supported(model) if graphs is None else graphs
    was_training = model.training
    model.eval()
    try:
        Decoder(model, jobs, choice, stop_ids, pad_id, slots, graphs, mixer, finished, on_timing, width).run()
    finally:
        model.train(was_training)
    return out
