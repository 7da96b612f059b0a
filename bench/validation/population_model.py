"""A small Llama-shaped language model pretrained on a population of English books: the base model of the
known-truth experiment (bench/validation/known_truth.py), since no hub is reachable.

The tokenizer is the project's own recipe (`lib.llm.tiny.train_tokenizer`: byte-level BPE, Llama 3's split and
special tokens and chat template) trained on the population; the model is `lib.llm.tiny.new_model` at a real
size (about 29M parameters: 8 layers x 512). A handful of population authors is kept out of pretraining:
their books are the generic side of the authorship measure and the general text forgetting is measured on,
and the model's held-out loss is measured on them (authors it never saw). Books that are not UTF-8 (a few
Gutenberg files are Latin-1) are decoded as Latin-1 and named in the report.

Pretraining is a plain loop (bf16 autocast, AdamW, cosine schedule) that runs for a wall-clock budget: the
step time is measured on the first steps and the schedule is set to end when the budget does.

    python -m bench.validation.population_model --population ../shared/corpora/population --out DIR [--seconds 150]
"""

from __future__ import annotations

import json
import math
import random
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SHAPE = dict(hidden_size=512, intermediate_size=1536, num_hidden_layers=8, num_attention_heads=8,
             num_key_value_heads=4)
SMOKE_SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2)
NOT_ONE_AUTHOR = ("various", "anonymous", "unknown")
SAMPLE_PROMPTS = ["It was late in the evening when", "The history of the town", "My dear friend, I write to tell you",
                  "There is no greater mistake than to suppose that"]


def unpack(path: Path, work: Path) -> Path:
    """The population folder: as given, or unpacked from a .tar.xz archive (how it travels to the GPU)."""
    if path.is_dir():
        return path
    target = work / "population_unpacked"
    if not (target / "done").exists():
        with tarfile.open(path, "r:xz") as archive:
            archive.extractall(target, filter="data")
        (target / "done").write_text("")
    found = [p.parent for p in target.rglob("MANIFEST.json")]
    if not found:
        raise SystemExit(f"{path}: no MANIFEST.json inside the archive")
    return found[0]


def read_book(path: Path) -> tuple[str, str]:
    """(text, encoding): UTF-8, or Latin-1 for the few Gutenberg files that are not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def clean_book(path: str) -> tuple[str, str]:
    """A book as the project cleans a corpus: Gutenberg header and licence off, lines unwrapped."""
    from lib.data import cleaning, corpus

    text, encoding = read_book(Path(path))
    text, _ = corpus.strip_gutenberg(text)
    doc, _ = cleaning.clean_document(corpus.Document(Path(path).name, "population", text, path))
    return doc.text, encoding


def clean_books(root: Path, files: list[str], workers: int) -> dict[str, tuple[str, str]]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return dict(zip(files, pool.map(clean_book, [str(root / f) for f in files], chunksize=4)))


def choose_held_out(books: list[dict], n_authors: int, seed: int, hold: frozenset[str] = frozenset()) -> list[str]:
    """Authors kept out of pretraining (one person each: no 'Various' or 'Anonymous'), and every author in `hold`
    (writers the experiment tunes on: a model that pretrained on them would know them before tuning)."""
    authors = sorted({b["author"] for b in books if not b["author"].lower().startswith(NOT_ONE_AUTHOR)})
    random.Random(seed).shuffle(authors)
    return sorted(set(authors[:n_authors]) | set(hold))


def population(root: Path, held_out_authors: int, seed: int, workers: int, max_books: int | None = None,
               max_chars: int | None = None, hold: frozenset[str] = frozenset()) -> dict:
    """Pretraining texts, and the held-out authors' texts, cleaned; with the books decoded as Latin-1."""
    books = json.loads((root / "MANIFEST.json").read_text())
    held = set(choose_held_out(books, held_out_authors, seed, hold))
    if max_books:  # smoke: one book of each held-out author and a few others
        first = {b["author"]: b for b in reversed(books) if b["author"] in held}
        books = list(first.values()) + [b for b in books if b["author"] not in held][:max_books]
    cleaned = clean_books(root, [b["f"] for b in books], workers)
    out = {"train": [], "generic": {}, "latin1": [], "books": {"train": 0, "held_out": 0}}
    for book in books:
        text, encoding = cleaned[book["f"]]
        text = text[:max_chars] if max_chars else text
        if encoding != "utf-8":
            out["latin1"].append(f"{book['f']} ({book['author']})")
        if book["author"] in held:
            out["generic"].setdefault(book["author"], []).append(text)
            out["books"]["held_out"] += 1
        else:
            out["train"].append(text)
            out["books"]["train"] += 1
    return out


def token_stream(tokenizer, texts: list[str]):
    """All texts as one stream of token ids, each text closed by EOS."""
    import numpy as np

    eos = tokenizer.convert_tokens_to_ids("<|end_of_text|>")
    parts = []
    for start in range(0, len(texts), 64):
        for ids in tokenizer(texts[start:start + 64], add_special_tokens=False)["input_ids"]:
            parts += [np.asarray(ids, dtype=np.int32), np.asarray([eos], dtype=np.int32)]
    return np.concatenate(parts)


def pretrain(model, stream, bos: int, seq: int, batch: int, seconds: float, lr: float, seed: int,
             measured: int = 20, warmup: int = 100) -> dict:
    """Train on random windows of the stream (each row: BOS + seq-1 tokens) for about `seconds`."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    data = torch.as_tensor(stream, dtype=torch.long, device=device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                  lr=lr, betas=(0.9, 0.95), **({"fused": True} if device == "cuda" else {}))
    generator = torch.Generator(device=device).manual_seed(seed)
    offsets = torch.arange(seq - 1, device=device)
    head = torch.full((batch, 1), bos, dtype=torch.long, device=device)
    total, losses = None, []
    started = time.time()
    step, warm, clock = 0, measured // 4, 0.0
    while total is None or step < total:
        if step in (warm, measured):  # time steps warm..measured; the schedule ends when the budget does
            if device == "cuda":
                torch.cuda.synchronize()
            if step == warm:
                clock = time.time()
            else:
                per_step = (time.time() - clock) / (measured - warm)
                total = max(measured + 1, int((seconds - (time.time() - started)) / per_step) + measured)
        if step % 500 == 0 and losses:
            print(f"pretraining step {step}/{total}: loss {float(losses[-1]):.3f}", flush=True)
        horizon = total or 10 ** 9
        scale = min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, step / horizon))))
        for group in optimiser.param_groups:
            group["lr"] = lr * scale
        starts = torch.randint(0, len(data) - seq, (batch,), device=device, generator=generator)
        rows = torch.cat([head, data[starts[:, None] + offsets]], dim=1)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(input_ids=rows, labels=rows).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        losses.append(loss.detach())
        step += 1
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.time() - started
    curve = [float(x) for x in torch.stack(losses).cpu()]
    tokens = step * batch * seq
    return {"steps": step, "batch": batch, "seq": seq, "tokens": tokens, "epochs": round(tokens / len(stream), 2),
            "seconds": round(elapsed, 1), "tokens_per_second": round(tokens / elapsed), "lr": lr,
            "first_loss": round(curve[0], 3), "train_loss_last_50": round(sum(curve[-50:]) / len(curve[-50:]), 3),
            "loss_curve": [round(sum(curve[i:i + 50]) / len(curve[i:i + 50]), 3) for i in range(0, len(curve), 50)]}


def held_out_loss(model, tokenizer, generic: dict[str, list[str]], words: int) -> dict:
    """Mean loss (nats/token) on 256-token windows of the held-out authors' books (first `words` of each)."""
    from lib.llm import generation

    texts = [" ".join(t.split()[:words]) for texts in generic.values() for t in texts]
    losses = generation.window_losses(model, tokenizer, texts, 256, batch_size=64, min_tokens=32)
    mean = sum(losses) / len(losses)
    return {"loss": round(mean, 3), "perplexity": round(math.exp(mean), 1), "windows": len(losses),
            "authors": len(generic)}


def build(root: Path, work: Path, *, smoke: bool, seconds: float, held_out_authors: int, seed: int,
          workers: int, vocab: int, hold: frozenset[str] = frozenset()) -> tuple[Path, dict, dict[str, list[str]]]:
    """Clean the population, train the tokenizer and the model, save it as a model folder; return the folder,
    the report (sizes, held-out loss, greedy samples) and the held-out authors' texts. `hold`: authors kept out
    of pretraining besides the `held_out_authors` drawn at random."""
    import torch

    from lib.llm import generation, tiny

    timings = {}
    began = time.time()
    pop = population(root, held_out_authors, seed, workers, hold=frozenset(hold),
                     **({"max_books": 6, "max_chars": 40_000} if smoke else {}))
    timings["clean_s"] = round(time.time() - began, 1)
    began = time.time()
    tokenizer = tiny.train_tokenizer([t[:100_000] for t in pop["train"]], vocab)
    timings["tokenizer_s"] = round(time.time() - began, 1)
    began = time.time()
    stream = token_stream(tokenizer, pop["train"])
    timings["tokenize_s"] = round(time.time() - began, 1)
    shape = SMOKE_SHAPE if smoke else SHAPE
    model = tiny.new_model(tokenizer, shape, seed=seed)
    parameters = sum(p.numel() for p in model.parameters())
    trained = pretrain(model, stream, tokenizer.bos_token_id, 128 if smoke else 512, 8 if smoke else 64,
                       seconds, 3e-3 if smoke else 1e-3, seed, *((4, 2) if smoke else (20, 100)))
    model.eval()
    with torch.no_grad():
        loss = held_out_loss(model, tokenizer, pop["generic"], 2000 if smoke else 20_000)
    samples = generation.generate(model, tokenizer, SAMPLE_PROMPTS,
                                  generation.GenerationSettings(max_new_tokens=60, batch_size=8), chat=False)
    folder = work / "population-model"
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    report = {"shape": shape, "parameters": parameters, "vocab": len(tokenizer),
              "characters": sum(map(len, pop["train"])), "stream_tokens": int(len(stream)),
              "books": pop["books"], "held_out_authors": sorted(pop["generic"]),
              "decoded_as_latin1": pop["latin1"], "pretraining": trained, "held_out": loss,
              "greedy_samples": [{"prompt": p, "continuation": s} for p, s in zip(SAMPLE_PROMPTS, samples)],
              "timings": timings}
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return folder, report, pop["generic"]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", default="../shared/corpora/population")
    parser.add_argument("--out", default="/tmp/population-model")
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    work = Path(args.out)
    root = unpack(Path(args.population), work)
    _, report, _ = build(root, work, smoke=args.smoke, seconds=args.seconds, held_out_authors=3 if args.smoke else 20,
                         seed=0, workers=2 if args.smoke else 16, vocab=1024 if args.smoke else 8192)
    print(json.dumps({k: v for k, v in report.items() if k != "pretraining"} | {
        "pretraining": {k: v for k, v in report["pretraining"].items() if k != "loss_curve"}}, indent=1))


if __name__ == "__main__":
    main()
