"""Generating answers: chat-formatted, batched with left padding, stopping at the end of the turn.

One function serves the notebooks' side-by-side tables, the chat box, backtranslation and the probe
study, so every generation is made the same way and can be recorded with its settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from . import decoding
from .models import stop_token_ids


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 200
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    min_new_tokens: int = 0
    repetition_penalty: float = 1.0
    seed: int = 0
    batch_size: int = 8

    def as_dict(self) -> dict:
        return asdict(self)


def chat_text(tokenizer, user: str | list[dict], system_prompt: str | None = None,
              chat_date: str | None = None) -> str:
    """The prompt string for a user turn (or a whole conversation), ending with the assistant header."""
    turns = [{"role": "user", "content": user}] if isinstance(user, str) else list(user)
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + turns
    kwargs = {"date_string": chat_date} if chat_date else {}
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)


def generate(model, tokenizer, prompts: list, settings: GenerationSettings | None = None, *,
             chat: bool = True, system_prompt: str | None = None, chat_date: str | None = None,
             progress: bool = False, fast: bool | None = None) -> list[str]:
    """Answers to `prompts`, in order: user turns (or message lists) when `chat`, raw text to continue otherwise.

    On a GPU (unquantised model) decoding replays a CUDA graph over a static cache (`lib/decoding.py`);
    elsewhere, or with `fast=False`, it is Hugging Face's `generate`. Both choose tokens the same way."""
    import torch

    settings = settings or GenerationSettings()
    fast = decoding.supported(model) if fast is None else fast
    stops = stop_token_ids(tokenizer)
    texts = [chat_text(tokenizer, p, system_prompt, chat_date) if chat else p for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths share a batch
    out: list[str] = [""] * len(texts)
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    batches = [order[i:i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="generating", leave=False)
    try:
        for batch in batches:
            enc = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                            add_special_tokens=not chat).to(model.device)
            if settings.do_sample:
                torch.manual_seed(settings.seed)
            if fast:
                new = decoding.decode(model, enc["input_ids"], enc["attention_mask"], settings, stops,
                                      tokenizer.pad_token_id)
            else:
                with torch.no_grad():
                    ids = model.generate(
                        **enc, max_new_tokens=settings.max_new_tokens, min_new_tokens=settings.min_new_tokens,
                        do_sample=settings.do_sample, temperature=settings.temperature if settings.do_sample else None,
                        top_p=settings.top_p if settings.do_sample else None, top_k=None,
                        repetition_penalty=settings.repetition_penalty, eos_token_id=stops,
                        pad_token_id=tokenizer.pad_token_id)
                new = ids[:, enc["input_ids"].shape[1]:]
            for i, row in zip(batch, new):
                out[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def generator(cfg, settings: GenerationSettings | None = None):
    """`generate(prompts) -> answers` bound to the base model (used for backtranslation in 01_data)."""
    from .models import load_base

    model, tokenizer = load_base(cfg)
    settings = settings or GenerationSettings(max_new_tokens=60)
    return lambda prompts: generate(model, tokenizer, prompts, settings, chat_date=cfg.chat_date, progress=True)


# --- side by side ---------------------------------------------------------------------------------

def read_prompts(path: str | Path) -> list[str]:
    """One prompt per line; blank lines and lines starting with # are skipped."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: prompts file not found")
    prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise ValueError(f"{path}: no prompts in the file")
    return prompts


def compare_with_base(model, tokenizer, prompts: list[str], settings: GenerationSettings, *, chat: bool = True,
                      chat_date: str | None = None, label: str = "tuned") -> dict[str, list[str]]:
    """The same prompts answered by the base model (adapters switched off) and the tuned one."""
    with model.disable_adapter():
        base = generate(model, tokenizer, prompts, settings, chat=chat, chat_date=chat_date)
    return {"base": base, label: generate(model, tokenizer, prompts, settings, chat=chat, chat_date=chat_date)}


def save_comparison(folder: Path, name: str, prompts: list[str], answers: dict[str, list[str]],
                    settings: GenerationSettings, title: str) -> Path:
    """`<name>.html` (the table the notebook shows) and `<name>.jsonl` (one row per prompt and arm)."""
    from . import display, storage

    rows = [{"prompt": p, "arm": arm, "answer": out[i], "settings": settings.as_dict()}
            for i, p in enumerate(prompts) for arm, out in answers.items()]
    storage.write_jsonl(folder / f"{name}.jsonl", rows)
    return storage.write_text(folder / f"{name}.html", display.side_by_side(prompts, answers, title))


# --- perplexity -------------------------------------------------------------------------------------

def window_losses(model, tokenizer, texts: list[str], window: int = 256, batch_size: int = 8, min_tokens: int = 2,
                  indexed: bool = False) -> list:
    """Mean next-token loss (nats/token) of each `window`-token piece of the texts, in order.

    Texts are tokenised whole and cut into consecutive windows (a BOS in front of each), so long documents
    count in full and every window is scored the same way; the perplexity of a set is exp(mean loss). A piece
    shorter than `min_tokens` (a title, a tail) is not scored. With `indexed`, each loss comes as
    (index of its text, loss), so that windows can be resampled with the document they belong to.
    """
    import torch

    ids: list[list[int]] = []
    owners: list[int] = []
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    for index, text in enumerate(texts):
        tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
        pieces = [tokens[i:i + window] for i in range(0, len(tokens), window)]
        pieces = [piece for piece in pieces if len(piece) >= max(2, min_tokens)]
        ids += [bos + piece for piece in pieces]
        owners += [index] * len(pieces)
    losses: list[float] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(ids), batch_size):
            batch = ids[start:start + batch_size]
            width = max(len(x) for x in batch)
            input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, x in enumerate(batch):
                input_ids[row, :len(x)] = torch.tensor(x)
                mask[row, :len(x)] = 1
            input_ids, mask = input_ids.to(model.device), mask.to(model.device)
            with torch.no_grad():
                logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
            targets = input_ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100,
                                                    reduction="none")
            counts = (targets != -100).sum(dim=1)
            losses += (nll.sum(dim=1) / counts).tolist()
    finally:
        model.train(was_training)
    return list(zip(owners, losses)) if indexed else losses
