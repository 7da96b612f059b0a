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
    batch_size: int = 0  # rows decoding together; 0: as many as the hardware profile and free memory allow

    def as_dict(self) -> dict:
        return asdict(self)

    def choice(self) -> decoding.Choice:
        """How tokens are chosen: what answers that decode together must share."""
        if not self.do_sample:
            return decoding.Choice(False, 1.0, 1.0, self.min_new_tokens, self.repetition_penalty)
        return decoding.Choice(True, self.temperature, self.top_p, self.min_new_tokens, self.repetition_penalty)


@dataclass(frozen=True)
class Prompt:
    """One answer to make: the prompt as the model reads it (chat-formatted, or raw text to continue), its
    settings, the adapter that answers (with mixed adapters; None: the model as it is set) and the seed of
    its own sampling stream."""
    text: str
    settings: GenerationSettings
    chat: bool = True
    adapter: str | None = None
    seed: int = 0


def chat_text(tokenizer, user: str | list[dict], system_prompt: str | None = None,
              chat_date: str | None = None) -> str:
    """The prompt string for a user turn (or a whole conversation), ending with the assistant header."""
    turns = [{"role": "user", "content": user}] if isinstance(user, str) else list(user)
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + turns
    kwargs = {"date_string": chat_date} if chat_date else {}
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)


def row_seed(*parts) -> int:
    """A 32-bit seed from the things that identify an answer: a sampled answer depends on them alone."""
    import hashlib

    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "little")


def generate(model, tokenizer, prompts: list, settings: GenerationSettings | None = None, *,
             chat: bool = True, system_prompt: str | None = None, chat_date: str | None = None,
             progress: bool = False, fast: bool | None = None) -> list[str]:
    """Answers to `prompts`, in order: user turns (or message lists) when `chat`, raw text to continue otherwise.

    All prompts decode together (`lib/llm/decoding.py`: continuous batching; on a GPU, unquantised, the decoding
    step replayed as a CUDA graph; `fast=False` runs it eagerly). Greedy answers are those of Hugging Face's
    `generate`; a sampled one depends on `settings.seed` and its prompt (and its place among equal prompts)."""
    settings = settings or GenerationSettings()
    texts = [chat_text(tokenizer, p, system_prompt, chat_date) if chat else p for p in prompts]
    seen: dict[str, int] = {}
    jobs = []
    for text in texts:
        seen[text] = seen.get(text, -1) + 1
        jobs.append(Prompt(text, settings, chat, seed=row_seed(settings.seed, text, seen[text])))
    return answer(model, tokenizer, jobs, progress=progress, fast=fast)


def answer(model, tokenizer, prompts: list[Prompt], *, adapters: list[str] | None = None, on_answers=None,
           progress=False, fast: bool | None = None, on_timing=None) -> list[str]:
    """Answers to `prompts`, in order. Prompts that choose tokens alike decode together, longest first.

    `adapters`: the adapters a prompt may name, mixed in one batch (`lib.llm.lora_mix`; the caller checks
    `lora_mix.unsupported` first). `on_answers([(index, answer)])` is called as answers end (to store them);
    `progress`: True for a bar of its own, or a tqdm bar to advance; `on_timing(seconds per step, rows)`
    once per pool, when the decoding speed is known."""
    from . import hardware

    out: list[str] = [""] * len(prompts)
    if not prompts:
        return out
    bar, own_bar = progress, False
    if progress is True:
        from tqdm.auto import tqdm

        bar, own_bar = tqdm(total=len(prompts), desc="generating", unit="answer"), True
    stops = stop_token_ids(tokenizer)
    ids = token_ids(tokenizer, prompts)
    index = {name: i + 1 for i, name in enumerate(adapters or [])}
    pools: dict = {}
    for i, p in enumerate(prompts):
        pools.setdefault((p.settings.choice(), p.settings.batch_size), []).append(i)
    mixer = None
    if adapters:
        from .lora_mix import Mixer

        mixer = Mixer(model, adapters)
    try:
        for (choice, batch_size), members in pools.items():
            jobs = [decoding.Job(ids[i], prompts[i].settings.max_new_tokens, prompts[i].seed,
                                 index.get(prompts[i].adapter, 0)) for i in members]
            width = max(len(j.ids) for j in jobs) + max(j.max_new_tokens for j in jobs)
            slots = batch_size or hardware.generation_slots(model, width, len(jobs))

            def finished(items, members=members):
                done = [(members[j], tokenizer.decode(new, skip_special_tokens=True).strip()) for j, new in items]
                for i, text in done:
                    out[i] = text
                if on_answers:
                    on_answers(done)
                if bar:
                    bar.update(len(done))

            graphs = decoding.supported(model) if fast is None else fast and decoding.supported(model)
            if mixer is not None:
                with mixer:
                    decoding.decode(model, jobs, choice, stops, tokenizer.pad_token_id, slots, graphs, mixer,
                                    finished, on_timing)
            else:
                decoding.decode(model, jobs, choice, stops, tokenizer.pad_token_id, slots, graphs, None, finished,
                                on_timing)
    finally:
        if own_bar:
            bar.close()
    return out


def token_ids(tokenizer, prompts: list[Prompt]) -> list[list[int]]:
    """Each prompt's ids: chat text carries its own BOS (from the template); raw text gets the tokenizer's."""
    out: list[list[int]] = [[] for _ in prompts]
    for chat in (True, False):
        chosen = [i for i, p in enumerate(prompts) if p.chat == chat]
        if chosen:
            encoded = tokenizer([prompts[i].text for i in chosen], add_special_tokens=not chat)["input_ids"]
            for i, row in zip(chosen, encoded):
                out[i] = list(row)
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
    from ..files import storage
    from ..view import display

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
