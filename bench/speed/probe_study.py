"""`04_probe_study` before and after, in one run: the whole study with a control author's two arms, cell by cell
with the new generation, then the study's own prompt mix answered by the previous path and the new one, then
the decoding step at several batch sizes and the T4 / A100 predictions made from it.

1. Setup: the shape model (Llama-3.2-3B's shape, random weights, Llama-3.2's tokenizer: bench/speed/shape_model.py),
   the Schopenhauer essays prepared by the project, stage 1 trained for `--train_steps` steps, and five more
   arms made from it by adding seeded noise to its LoRA B matrices: stage 1 + 2, SFT only, and a control
   author's stage 1 and stage 1 + 2 (`control_pretraining`, `control_instruction`). Six arms: quality is
   irrelevant to the timing, the number and shape of the adapters is what counts.
2. The new 04: every cell the notebook runs (open the study, which now makes every answer in one pass; the four
   claims; the questionnaire; the report), timed: seconds, seconds generating, answers made, decoding steps.
3. The mix: every ask the study made in step 2 (all arms, all probe sets, in cell order), its answers capped at
   a quarter of their length (`--mix_fraction`) so that the previous path fits the call, answered by the
   previous path (bench/speed/baseline: batches of 32 per probe set and arm, a graph captured per batch) for at most
   the time left, then the same asks by the new path (one pass per cell, adapters mixed). Answers per second
   of both and their ratio; per cell, the issue's table for both.
4. The decoding step at several batch sizes (graphs) and once eagerly; the fitted cost model
   (`lib.llm.hardware.fit_decode_cost`) and the predicted generation time of step 2's answers on a T4 (4-bit,
   eager) and an A100 (bf16, graphs).

    python -m bench.speed.probe_study [--budget 420] [--json F]    # the lent GPU, one call
    python -m bench.speed.probe_study --smoke                      # the tiny model on CPU: the script end to end
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXTRA_ARMS = {"instruction": 1, "sft_only": 2, "control_pretraining": 3, "control_instruction": 4}  # arm -> noise seed
STARTED = time.perf_counter()


def elapsed() -> float:
    return time.perf_counter() - STARTED


def say(text: str) -> None:
    print(f"[{elapsed():6.1f} s] {text}", flush=True)


# --- 1. setup ------------------------------------------------------------------------------------------------

def setup(args) -> tuple[str, Path]:
    """The model, the prepared data and the six arms' run folder."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "P4_OUTPUTS": str(args.outputs)}
    if args.smoke:
        model = "tiny"
        prepare = ["--max_seq_length", "256"]
    else:
        from bench.speed import shape_model
        from bench.speed.train_matrix import SCHOPENHAUER

        model = str(shape_model.build(args.model))
        corpus = ROOT / ".carry/corpora/schopenhauer"
        corpus = corpus if corpus.exists() else ROOT.parent / "shared/corpora/schopenhauer"
        prepare = ["--max_seq_length", "2048", "--corpus", str(corpus), "--qa_file", "", *SCHOPENHAUER]
    say(f"model {model}")
    if not (Path(args.processed_dir) / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "lib", "prepare", "--model", model, "--processed_dir",
                        args.processed_dir, *prepare], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    run = Path(args.outputs) / args.run_name
    if not (run / "pretraining" / "manifest.json").exists():
        done = subprocess.run([sys.executable, "-m", "lib", "train", "--stage", "pretraining", "--model", model,
                               "--processed_dir", args.processed_dir, "--max_seq_length", prepare[1],
                               "--use_unsloth", "false", "--run_name", args.run_name, "--max_steps",
                               str(args.train_steps), "--eval_steps", "1000", "--save_steps", "1000",
                               "--torch_compile", "false", "--attn_implementation", "sdpa"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"training stage 1 failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    for arm, seed in EXTRA_ARMS.items():
        make_arm(run, arm, seed)
    say(f"arms ready in {run}")
    return model, run


def make_arm(run: Path, arm: str, seed: int) -> None:
    """A copy of stage 1 whose LoRA B matrices carry seeded noise: an adapter of the same shape, its own answers."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = run / arm
    if (folder / "manifest.json").exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(run / "pretraining", folder, ignore=shutil.ignore_patterns("checkpoints"))
    path = folder / "adapter" / "adapter_model.safetensors"
    weights = load_file(str(path))
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in weights.items():
        if "lora_B" in name:
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float32) * 0.01
            weights[name] = (tensor.float() + noise).to(tensor.dtype)
    save_file(weights, str(path), metadata={"format": "pt"})


def study_config(args, model: str):
    """The study's configuration: the bundled probes at full size (or a few of each kind with `--smoke`)."""
    from lib.data import processed
    from lib.files import storage
    from lib.settings import config
    from lib.study import arms as arms_mod
    from lib.study import probes

    for arm in EXTRA_ARMS:  # the control author's arms, loaded like the others
        if arm not in arms_mod.ADAPTERS:
            arms_mod.ADAPTERS = (*arms_mod.ADAPTERS, arm)
    smoke = dict(probe_max_new_tokens=40, instruction_max_new_tokens=48, authorship_words=20, digidan_items=3,
                 digidan_samples=2, completion_probes=4, bootstrap_samples=100) if args.smoke else {}
    cfg = config.load_config(ROOT / "config.yaml", model=model, run_name=args.run_name,
                             processed_dir=args.processed_dir, **{"authorship_words": args.authorship_words, **smoke})
    folder = Path(args.outputs) / "probes"
    shutil.copytree(ROOT / "data" / "probes", folder, dirs_exist_ok=True)
    documents = processed.read_manifest(cfg)["documents"]
    storage.write_json(folder / "PROBES.json", {"corpus": cfg.corpus, "author_names": [],
                                                "documents": documents["train"] + documents["validation"]})
    if args.smoke:  # a few probes of each kind, instructions that can be met in 48 tokens
        probes.keep_few(folder, each=3, questions=5, cap=48)
    return cfg.replace(probe_dir=str(folder))


# --- counting ---------------------------------------------------------------------------------------------------

class Clock:
    """Seconds generating, answers made and decoding steps, for the new path (lib) and the previous one."""

    def __init__(self):
        from lib.llm import decoding
        from lib.study import answers, arms

        self.seconds = 0.0
        self.made = self.steps = self.widths = 0
        self.asks: list[tuple[str, object]] = []  # (cell, Request) of every ask, stored or not
        self.cell = ""
        real_answer, real_step, real_generate = answers.answer, decoding.Decoder.step, arms.Arms.generate
        clock = self

        def answer(arms_, requests, progress=False):
            started = time.perf_counter()
            missing = answers.rows_of(arms_, requests)[1]
            try:
                return real_answer(arms_, requests, progress)
            finally:
                clock.seconds += time.perf_counter() - started
                clock.made += len({row.key for row in missing})

        def step(self_):
            clock.steps += 1
            clock.widths += self_.width
            return real_step(self_)

        def generate(self_, arm, prompts, settings, *, probe, ids=None, chat=True):
            clock.asks.append((clock.cell, answers.Request(arm, probe, list(prompts), ids, settings, chat)))
            return real_generate(self_, arm, prompts, settings, probe=probe, ids=ids, chat=chat)

        answers.answer, decoding.Decoder.step, arms.Arms.generate = answer, step, generate

    def snapshot(self) -> dict:
        return {"seconds": self.seconds, "made": self.made, "steps": self.steps}


# --- 2. the new 04 ---------------------------------------------------------------------------------------------

def new_study(cfg, clock: Clock) -> tuple[list[dict], object]:
    """Every cell of 04 with the new path, timed as the notebook runs them."""
    from lib.study import domination, inextricability, replica, report, steerability
    from lib.study import study as probe_study

    rows, holder = [], {}

    def cell(name, fn):
        clock.cell = name
        before, started = clock.snapshot(), time.perf_counter()
        value = fn()
        after = clock.snapshot()
        rows.append({"cell": name, "seconds": round(time.perf_counter() - started, 1),
                     "generating": round(after["seconds"] - before["seconds"], 1),
                     "answers": after["made"] - before["made"], "steps": after["steps"] - before["steps"]})
        say(json.dumps(rows[-1]))
        return value

    study = holder["study"] = cell("open study (every answer)", lambda: probe_study.open_study(cfg))
    claims = [cell(f"claim {i + 1}", lambda m=m: m.run(study)) for i, m in enumerate((inextricability, steerability,
                                                                                       replica))]
    cell("questionnaire", lambda: replica.questionnaire_files(study, cfg.questionnaire_arm))
    claims.append(cell("claim 4", lambda: domination.run(study)))
    cell("report", lambda: report.save(study, claims))
    return rows, study


# --- 3. the mix, both ways -----------------------------------------------------------------------------------

def shortened(request, fraction: float):
    settings = request.settings
    short = dataclasses.replace(settings, max_new_tokens=max(4, round(settings.max_new_tokens * fraction)))
    return dataclasses.replace(request, settings=short)


def compare_mix(study, asks: list[tuple[str, object]], fraction: float, budget: float) -> dict:
    """The study's asks (answers capped at `fraction` of their length) by the previous path, for at most `budget`
    seconds, then the same asks by the new path; per cell and in all."""
    import torch

    from lib.study import answers

    from bench.speed import baseline

    previous, previous_decoding = baseline.load()
    steps = {"n": 0}
    real_decode = previous_decoding.decode

    def counted(*a, **k):
        out = real_decode(*a, **k)
        steps["n"] += out.shape[1]
        return out

    previous_decoding.decode = counted
    arms = study.arms
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    cells: dict[str, dict] = {}
    done: list[tuple[str, object]] = []
    started = time.perf_counter()
    for cell, request in asks:
        if time.perf_counter() - started > budget:
            break
        request = shortened(request, fraction)
        row = cells.setdefault(cell, {"cell": cell, "previous s": 0.0, "previous answers": 0, "previous steps": 0})
        before = steps["n"]
        t0 = time.perf_counter()
        with arms.use(request.arm) as model:
            previous.generate(model, arms.tokenizer, request.prompts,
                              dataclasses.replace(request.settings, batch_size=32), chat=request.chat,
                              system_prompt=arms.cfg.system_prompt, chat_date=arms.cfg.chat_date)
        sync()
        row["previous s"] += time.perf_counter() - t0
        row["previous answers"] += len(request.prompts)
        row["previous steps"] += steps["n"] - before
        done.append((cell, request))
    say(f"previous path: {len(done)} of {len(asks)} asks in {time.perf_counter() - started:.0f} s")
    store, arms.store = arms.store, None  # the new path makes every answer again, keeping none
    from lib.llm import decoding

    counter = {"n": 0}
    real_step = decoding.Decoder.step

    def step(self_):
        counter["n"] += 1
        return real_step(self_)

    decoding.Decoder.step = step
    try:
        for cell in cells:
            requests = [r for c, r in done if c == cell]
            before, t0 = counter["n"], time.perf_counter()
            answers.answer(arms, requests)
            sync()
            cells[cell].update({"new s": time.perf_counter() - t0, "new answers": sum(len(r.prompts) for r in requests),
                                "new steps": counter["n"] - before})
    finally:
        decoding.Decoder.step = real_step
        arms.store = store
    rows = list(cells.values())
    total = {k: sum(r[k] for r in rows) for k in ("previous s", "previous answers", "previous steps", "new s",
                                                  "new answers", "new steps")}
    total["ratio"] = ((total["new answers"] / total["new s"]) / (total["previous answers"] / total["previous s"])
                      if total["new s"] and total["previous s"] else float("nan"))
    return {"fraction": fraction, "asks": len(asks), "asks_compared": len(done), "cells": rows, "total": total}


# --- 4. the decoding step, and the predictions ------------------------------------------------------------------

def calibrate(study, smoke: bool) -> dict:
    """Seconds per decoding step at several batch sizes (all adapters mixed, graphs where they run), and once
    eagerly: the inputs of the cost model."""
    from lib.llm import decoding, generation, lora_mix

    arms = study.arms
    adapters = [a for a in arms.names if a != "base"]
    mixer = lora_mix.Mixer(arms.model, adapters) if lora_mix.unsupported(arms.model, adapters) is None else None
    text = generation.chat_text(arms.tokenizer, study.probes["questions"][0], chat_date=arms.cfg.chat_date)
    ids = arms.tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt = (ids * (1 + 120 // len(ids)))[:120]
    shapes = ((4, 200), (8, 200)) if smoke else ((32, 700), (64, 700), (128, 700), (256, 700), (256, 200),
                                                 (384, 700))
    new_tokens = 16 if smoke else 48
    stops = [-1]  # never stop: every row decodes its whole allowance
    points = []
    for rows, width in shapes:
        jobs = [decoding.Job(prompt, new_tokens, i, i % (len(adapters) + 1)) for i in range(2 * rows)]
        timing = []
        with (mixer if mixer else _null()):
            decoding.decode(arms.model, jobs, decoding.Choice(), stops, arms.tokenizer.pad_token_id, rows,
                            mixer=mixer, on_timing=lambda s, n: timing.append(s), width=width)
        if timing:
            points.append((rows, width, timing[0]))
            say(f"decoding step at {rows} rows over {width} columns: {timing[0] * 1000:.2f} ms")
    eager = []
    rows = shapes[1][0]
    jobs = [decoding.Job(prompt, new_tokens, i, 0) for i in range(2 * rows)]
    with arms.use("base") as model:
        decoding.decode(model, jobs, decoding.Choice(), stops, arms.tokenizer.pad_token_id, rows, graphs=False,
                        on_timing=lambda s, n: eager.append(s))
    say(f"eager decoding step at {rows} rows: {eager[0] * 1000:.1f} ms" if eager else "eager step not timed")
    return {"points": points, "eager": eager[0] if eager else None, "eager_rows": rows}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def predictions(study, calibration: dict, made_tokens: int, mean_width: float) -> dict:
    """Generation time of the study's answers on a T4 (4-bit, eager) and an A100 (bf16, graphs), from the H200's
    fitted step (lib.llm.hardware.fit_decode_cost); every input printed."""
    from lib.llm import decoding, hardware

    net = decoding.base_model(study.arms.model)
    cfg = net.config
    params = sum(p.numel() for p in net.parameters())
    embedding = cfg.vocab_size * cfg.hidden_size
    adapters = sum(p.numel() * p.element_size() for n, p in study.arms.model.named_parameters() if "lora_" in n)
    kv = decoding.kv_bytes_per_token(cfg, 2)
    flops = 2 * params + 4 * cfg.num_hidden_layers * cfg.hidden_size * mean_width  # matrix products, attention
    bf16_weights = 2 * params + adapters
    four_bit = 4.5 * (params - embedding) + 2 * embedding + adapters  # 4-bit read + fp16 dequantised write/read
    cost = hardware.fit_decode_cost(calibration["points"], bf16_weights, kv, flops, calibration["eager"] or 0.0)
    gib = 1024 ** 3
    t4_free = 15.1 * gib - (0.5 * (params - embedding) + 2 * embedding + adapters) - 1.0 * gib
    prefill = decoding.PREFILL_TOKENS * (kv + 6 * cfg.intermediate_size)  # as hardware.generation_slots counts
    t4_rows = int(min(hardware.PROFILES["t4"].decode_slots,
                      (0.8 * t4_free - prefill) // (kv * mean_width + 40 * cfg.vocab_size)))
    out = {"cost": dataclasses.asdict(cost), "new_tokens": made_tokens, "mean_width": mean_width,
           "bf16_weight_bytes": bf16_weights, "four_bit_weight_bytes": four_bit, "kv_bytes_token": kv,
           "flops_token": flops, "assumptions": {"COMPUTE_SHARE": hardware.COMPUTE_SHARE,
                                                 "HOST_4BIT": hardware.HOST_4BIT, "HOST_COLAB": hardware.HOST_COLAB}}
    for gpu, rows, weights, eager in (("A100-40GB", 256, bf16_weights, False), ("T4", t4_rows, four_bit, True),
                                      ("H200", 256, bf16_weights, False)):
        seconds = hardware.predict_generation(cost, gpu, made_tokens, rows, mean_width, weights, kv, flops, eager)
        step = cost.step(gpu, rows, mean_width, weights, kv, flops, eager)
        out[gpu] = {"rows": rows, "step_ms": round(step * 1000, 2), "generation_minutes": round(seconds / 60, 1)}
    return out


# --- report ------------------------------------------------------------------------------------------------------

def print_tables(summary: dict) -> None:
    print("\n04_probe_study with the new generation (" + summary["device"] + ", arms: " + ", ".join(summary["arms"])
          + ")")
    print(f"{'cell':<28}{'seconds':>9}{'generating':>12}{'answers':>9}{'decoding steps':>16}")
    for r in summary["new_04"]:
        print(f"{r['cell']:<28}{r['seconds']:>9.1f}{r['generating']:>12.1f}{r['answers']:>9}{r['steps']:>16,}")
    total = summary["new_04_total"]
    print(f"{'whole 04':<28}{total['seconds']:>9.1f}{total['generating']:>12.1f}{total['answers']:>9}"
          f"{total['steps']:>16,}")
    mix = summary["mix"]
    print(f"\nThe study's prompt mix, answers capped at {mix['fraction']:.0%} of their length, both paths on the same "
          f"asks ({mix['asks_compared']} of the study's {mix['asks']}):")
    print(f"{'cell':<28}{'previous s':>11}{'answers':>9}{'steps':>9}{'new s':>9}{'answers':>9}{'steps':>9}"
          f"{'x answers/s':>13}")
    for r in mix["cells"] + [{"cell": "all", **mix["total"]}]:
        ratio = ((r["new answers"] / r["new s"]) / (r["previous answers"] / r["previous s"])
                 if r["new s"] and r["previous s"] else float("nan"))
        before = f"{r['previous steps']:>9,}" if r["previous steps"] else f"{'-':>9}"  # counted on a GPU only
        print(f"{r['cell']:<28}{r['previous s']:>11.1f}{r['previous answers']:>9}{before}"
              f"{r['new s']:>9.1f}{r['new answers']:>9}{r['new steps']:>9,}{ratio:>13.2f}")
    cal = summary["calibration"]
    print("\nDecoding step (graphs, adapters mixed): " + ", ".join(f"{r} rows x {w} columns {s * 1000:.2f} ms"
                                                                 for r, w, s in cal["points"])
          + (f"; eager {cal['eager'] * 1000:.1f} ms at {cal['eager_rows']} rows" if cal["eager"] else ""))
    pred = summary.get("predictions")
    if pred:
        print(f"Predicted generation of step 2's {pred['new_tokens']:,} new tokens (cost model fitted here: fixed "
              f"{pred['cost']['fixed'] * 1000:.2f} ms, {pred['cost']['efficiency']:.0%} of the bandwidth):")
        for gpu in ("H200", "A100-40GB", "T4"):
            p = pred[gpu]
            print(f"  {gpu:<10} {p['rows']:>4} rows, {p['step_ms']:>7.2f} ms a step: "
                  f"{p['generation_minutes']:>6.1f} min")
    print(f"\nGoals: whole 04 with the control arm {total['seconds'] / 60:.1f} min (goal <= 4 on an H200); "
          f"answers per second x{mix['total']['ratio']:.2f} the previous path (goal >= 3)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="the tiny model on CPU, a few probes of each kind")
    parser.add_argument("--model", default="/tmp/llama-3b-shape")
    parser.add_argument("--run_name", default="probe-bench")
    parser.add_argument("--outputs", default=None)
    parser.add_argument("--processed_dir", default=None)
    parser.add_argument("--train_steps", type=int, default=2)
    parser.add_argument("--authorship_words", type=int, default=40,
                        help="the random model's answers hold no 150-word window")
    parser.add_argument("--mix_fraction", type=float, default=0.25)
    parser.add_argument("--budget", type=float, default=420, help="seconds for the whole run")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    work = Path("/tmp/p4-probe-bench" + ("-smoke" if args.smoke else ""))
    args.outputs = args.outputs or str(work / "outputs")
    args.processed_dir = args.processed_dir or str(work / "data")
    os.environ.update(P4_OUTPUTS=args.outputs, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    shutil.rmtree(Path(args.outputs) / args.run_name / "probe", ignore_errors=True)  # no answers from a past run
    model, run = setup(args)
    import torch

    from lib.llm import hardware

    cfg = study_config(args, model)
    clock = Clock()
    cells, study = new_study(cfg, clock)
    mean_width = clock.widths / max(1, clock.steps)  # cache columns each row attended over, per decoding step
    total = {k: round(sum(r[k] for r in cells), 1) for k in ("seconds", "generating")}
    total.update({k: sum(r[k] for r in cells) for k in ("answers", "steps")})
    calibration = calibrate(study, args.smoke)
    left = args.budget - elapsed() - 40
    mix = compare_mix(study, clock.asks, args.mix_fraction, max(10.0, left * 0.8))
    stored = [json.loads(line) for path in (run / "probe" / "answers").glob("*.jsonl")
              for line in path.read_text().splitlines()]
    tokenizer = study.arms.tokenizer
    made_tokens = sum(len(tokenizer(r["answer"], add_special_tokens=False)["input_ids"]) for r in stored)
    summary = {"device": hardware.gpu_name() or "CPU", "arms": study.arms.names, "new_04": cells,
               "new_04_total": total, "mix": mix, "calibration": calibration,
               "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 1024 ** 3, 2)
               if torch.cuda.is_available() else None, "seconds": round(elapsed(), 1)}
    if len(calibration["points"]) > 1 and torch.cuda.is_available():
        summary["predictions"] = predictions(study, calibration, made_tokens, mean_width)
    print_tables(summary)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str))
    say("done")


if __name__ == "__main__":
    main()
