"""Hardware profiles: what GPU is this, and how should training be shaped to fit and run well on it.

A profile picks precision (bf16 where supported, fp16 on a T4, fp32 on CPU), the micro-batch and
gradient checkpointing. The effective batch (per_device_train_batch_size x gradient_accumulation_steps in
the configuration) never changes: a smaller micro-batch gets more accumulation steps, so a run on a T4 and
one on an H100 take the same optimiser steps. `hardware_profile: off` uses the configuration as written;
a profile name forces that profile.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    micro_batch_2048: int          # sequences per device step at 2048 tokens (scaled for other lengths)
    gradient_checkpointing: bool
    note: str
    precision: str | None = None   # forced by the hardware (a T4 has no bf16); None: what the GPU supports
    four_bit: bool | None = None   # None: as configured; False: 16-bit LoRA (memory allows, and it is faster)
    attention: str = "sdpa"
    compile: bool = False          # torch.compile the decoder layers (lib/speedups.py)
    decode_slots: int = 64         # most answers decoding together (lib/llm/decoding.py); free memory may allow fewer


# Chosen from bench/speed/train_matrix.py on an H200 (2026-11-24, Llama-3.2-3B shape; docs/performance.md).
PROFILES = {
    "t4": Profile("t4", 4, True, "16 GB, no bf16: fp16, 4-bit, 4 sequences per step (~6 GiB at 2048)", "fp16", True,
                  compile=True, decode_slots=128),
    "l4": Profile("l4", 2, True, "24 GB, bf16, 16-bit LoRA", None, False, "flex_attention", True, decode_slots=128),
    "a100": Profile("a100", 4, True, "40/80 GB, bf16, 16-bit LoRA, checkpointing (~20 GiB at 2048)", None, False,
                    "flex_attention", True, decode_slots=256),
    "h100": Profile("h100", 4, False, "H100/H200, 80-141 GB, bf16, 16-bit LoRA, no recomputation", None, False,
                    "flex_attention", True, decode_slots=256),
    "gpu": Profile("gpu", 1, True, "an unrecognised GPU: the cautious T4-like shape", None, True),
    "cpu": Profile("cpu", 0, False, "no GPU: fp32, the configured batch (the tiny model, tests)", decode_slots=32),
}


@dataclass(frozen=True)
class Plan:
    profile: str
    device: str
    precision: str                  # bf16, fp16 or fp32
    micro_batch: int
    gradient_accumulation: int
    effective_batch: int
    gradient_checkpointing: bool
    load_in_4bit: bool = False
    attention: str = "sdpa"
    liger: bool = False
    compile: bool = False
    processes: int = 1              # data-parallel processes: the global batch is shared out among them
    examples_per_row: float = 1.0   # packed stage 2: pairs per packed row (the batch counts rows)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        processes = f" x {self.processes} processes" if self.processes > 1 else ""
        base = "4-bit" if self.load_in_4bit else "unquantised"
        rows = (f" rows of ~{self.examples_per_row:.1f} pairs (~{self.effective_batch * self.examples_per_row:.0f}"
                " pairs per step)" if self.examples_per_row > 1 else "")
        return (f"hardware profile '{self.profile}' on {self.device}: {base} base, {self.precision}, "
                f"micro-batch {self.micro_batch} x accumulation {self.gradient_accumulation}{processes} = effective "
                f"batch {self.effective_batch}{rows}, gradient checkpointing "
                f"{'on' if self.gradient_checkpointing else 'off'}, attention {self.attention}"
                f"{', Liger kernels' if self.liger else ''}{', compiled layers' if self.compile else ''}")


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def detect(name: str | None = None) -> str:
    """The profile for a device name (default: this machine's first GPU)."""
    name = name if name is not None else gpu_name()
    if not name:
        return "cpu"
    upper = name.upper()
    for key, profile in (("T4", "t4"), ("L4", "l4"), ("A100", "a100"), ("H100", "h100"), ("H200", "h100"),
                         ("GH200", "h100")):
        if key in upper:
            return profile
    return "gpu"


def default_precision() -> str:
    """bf16 where the GPU supports it, fp16 on older GPUs (a T4), fp32 on CPU."""
    import torch

    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if bf16_supported() else "fp16"


def bf16_supported() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def plan(cfg, compilable: bool = True, examples_per_row: float = 1.0) -> Plan:
    """Quantisation, precision, micro-batch, accumulation, checkpointing and kernels for this machine.

    A profile's compiled layers and flex attention apply only where `compilable`: packed stages on the
    Hugging Face backend. Compiling pays off on fixed-width rows (padded pairs vary in width),
    flex attention runs fast only compiled, and unsloth brings its own kernels.

    The configured batch counts examples (chunks, pairs). Where one packed row holds several
    (`examples_per_row`: stage 2's pairs), the plan counts rows so that an optimiser step still sees about the
    configured number of pairs, and the run the same number of steps as padded pairs would take.

    The effective batch stays as configured, also across the processes of a data-parallel launch (each
    accumulates fewer micro-batches). With `hardware_profile: auto` the profile decides 4-bit or
    16-bit (16-bit LoRA on GPUs with room: faster and no quantisation error); `off` uses the
    configuration as written; a profile name forces that profile (to rehearse a T4 run on a big GPU).
    """
    import torch

    on_gpu = torch.cuda.is_available()
    device = gpu_name() or f"CPU ({platform.processor() or platform.machine()})"
    effective = max(1, round(cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps / examples_per_row))
    forced_precision, four_bit, attention, compiled = None, cfg.load_in_4bit, "sdpa", False
    if cfg.hardware_profile == "off":
        name, micro = "off", min(cfg.per_device_train_batch_size, effective)
        checkpointing = on_gpu
    else:
        name = detect() if cfg.hardware_profile == "auto" else cfg.hardware_profile
        profile = PROFILES[name]
        if profile.micro_batch_2048:
            micro = max(1, profile.micro_batch_2048 * 2048 // cfg.max_seq_length)
        else:
            micro = min(cfg.per_device_train_batch_size, effective)
        micro = largest_divisor_at_most(effective, micro)
        checkpointing = profile.gradient_checkpointing and on_gpu
        if on_gpu:
            forced_precision = profile.precision
            four_bit = profile.four_bit if profile.four_bit is not None else cfg.load_in_4bit
            attention = profile.attention if compilable else "sdpa"
            compiled = profile.compile and compilable
    if cfg.gradient_checkpointing != "auto":
        checkpointing = bool(cfg.gradient_checkpointing)
    if cfg.attn_implementation != "auto":
        attention = cfg.attn_implementation
    precision = cfg.precision
    if precision == "auto" and forced_precision:
        precision = forced_precision
    if precision == "auto":
        precision = default_precision()
    liger = on_gpu and liger_available() if cfg.use_liger == "auto" else bool(cfg.use_liger)
    if cfg.torch_compile != "auto":
        compiled = bool(cfg.torch_compile)
    processes = world_size()
    accumulation = max(1, effective // (micro * processes))
    return Plan(name, device, precision, micro, accumulation, micro * accumulation * processes, checkpointing,
                bool(four_bit), attention, liger, compiled, processes, round(examples_per_row, 2))


def generation_slots(model, width: int, wanted: int) -> int:
    """How many answers decode together (lib/llm/decoding.py): the profile's most, or what the GPU's free memory
    holds at `width` cache columns a row (their keys and values, plus fp32 scores over the vocabulary), with
    room left for a prefill; never more than `wanted`.

    Decoding reads the weights once per step whatever the batch, so answers per second grow with the rows
    until the cache reads dominate; the profiles' numbers come from bench/speed/probe_study.py's sweep."""
    import torch

    from .decoding import PREFILL_TOKENS, base_model, kv_bytes_per_token

    net = base_model(model)
    profile = PROFILES[detect()]
    if not torch.cuda.is_available() or net.device.type != "cuda":
        return max(1, min(wanted, profile.decode_slots))
    dtype_bytes = 4 if net.dtype == torch.float32 else 2
    per_row = kv_bytes_per_token(net.config, dtype_bytes) * width + 40 * net.config.vocab_size
    prefill = PREFILL_TOKENS * (kv_bytes_per_token(net.config, dtype_bytes) + 6 * net.config.intermediate_size)
    free, _ = torch.cuda.mem_get_info(net.device)
    fits = int((0.8 * free - prefill) // per_row)
    return max(1, min(wanted, profile.decode_slots, fits))


def world_size() -> int:
    """Processes of a data-parallel launch (accelerate/torchrun set WORLD_SIZE); 1 otherwise."""
    import os

    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def liger_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None


def largest_divisor_at_most(n: int, limit: int) -> int:
    """The largest micro-batch <= limit that divides the effective batch (so no step is ragged)."""
    for m in range(min(n, max(1, limit)), 0, -1):
        if n % m == 0:
            return m
    return 1


def torch_dtype(precision: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


# --- what a run used --------------------------------------------------------------------------------

def reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def resources(seconds: float, tokens: int) -> dict:
    """GPU name and memory, peak allocated and reserved, time and throughput of a run just finished."""
    import torch

    gib = 1024 ** 3
    out = {"device": gpu_name() or "CPU", "training_seconds": round(seconds, 1),
           "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None, "tokens": tokens}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        out.update(gpu_memory_gib=round(props.total_memory / gib, 1),
                   peak_allocated_gib=round(torch.cuda.max_memory_allocated() / gib, 2),
                   peak_reserved_gib=round(torch.cuda.max_memory_reserved() / gib, 2))
    return out


def describe_machine() -> dict:
    """For run manifests: enough to know where a number came from."""
    import torch

    info = {"python": platform.python_version(), "platform": platform.platform(), "torch": torch.__version__,
            "gpu": gpu_name(), "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0}
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 1024 ** 3, 1)
    return info


# --- generation speed on another GPU, predicted from one measured -------------------------------------------

# Vendor figures: memory bandwidth (GB/s) and dense fp16/bf16 tensor throughput (TFLOP/s).
GPUS = {"T4": (320, 65), "L4": (300, 121), "A100-40GB": (1555, 312), "A100-80GB": (2039, 312),
        "H100": (3350, 989), "H200": (4800, 989)}
COMPUTE_SHARE = 0.5     # share of the tensor throughput a decoding step's skinny matrix products reach (assumed)
HOST_4BIT = 1.3         # eager step's host time with bitsandbytes 4-bit layers against bf16 ones (assumed)
HOST_COLAB = 1.5        # a Colab VM's CPU against the lent GPU machine's, per Python-bound step (assumed)


@dataclass(frozen=True)
class DecodeCost:
    """One decoding step, fitted on the measuring GPU: `fixed` seconds that no faster memory shortens (kernel
    launches, the graph's many small kernels), plus the bytes the step reads over the bandwidth at the share
    of it reached (`efficiency`), plus the matrix products at COMPUTE_SHARE of the tensor throughput. `host` is
    one eager step's Python time (graphs off): what a step costs at least where graphs cannot run (4-bit)."""
    fixed: float
    efficiency: float
    host: float
    gpu: str

    def step(self, gpu: str, rows: int, width: float, weight_bytes: float, kv_bytes_token: float,
             flops_token: float, eager: bool = False) -> float:
        """Seconds of one step on `gpu` at `rows` rows of `width` cache columns (each row attends over all)."""
        bandwidth, tflops = GPUS[gpu]
        read = weight_bytes + rows * width * kv_bytes_token
        device = self.fixed + read / (bandwidth * 1e9 * self.efficiency) + rows * flops_token / (
            tflops * 1e12 * COMPUTE_SHARE)
        return max(device, self.host * HOST_4BIT * HOST_COLAB) if eager else device


def fit_decode_cost(points: list[tuple[int, float, float]], weight_bytes: float, kv_bytes_token: float,
                    flops_token: float, host: float, gpu: str = "H200") -> DecodeCost:
    """The fixed time and bandwidth share that explain measured steps [(rows, width, seconds)] (at least two
    batch sizes): a least-squares line of seconds against bytes read, after the matrix products' share."""
    import numpy as np

    bandwidth, tflops = GPUS[gpu]
    read = np.array([weight_bytes + r * w * kv_bytes_token for r, w, _ in points])
    seconds = np.array([s - r * flops_token / (tflops * 1e12 * COMPUTE_SHARE) for r, _, s in points])
    slope, fixed = np.polyfit(read, seconds, 1) if len(points) > 1 else (seconds[0] / read[0], 0.0)
    efficiency = 1.0 / (max(slope, 1e-15) * bandwidth * 1e9)
    return DecodeCost(max(0.0, float(fixed)), float(min(1.0, efficiency)), host, gpu)


def predict_generation(cost: DecodeCost, gpu: str, new_tokens: int, rows: int, width: float, weight_bytes: float,
                       kv_bytes_token: float, flops_token: float, eager: bool = False) -> float:
    """Seconds to make `new_tokens` tokens in all, `rows` at a time (continuous batching keeps the rows full)."""
    steps = new_tokens / max(1, rows)
    return steps * cost.step(gpu, rows, width, weight_bytes, kv_bytes_token, flops_token, eager)
