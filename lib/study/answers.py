"""The probe study's answers, kept on disk as they are made: nothing generated is lost to a disconnect.

Every answer is appended to `outputs/<run>/probe/answers/<arm>-<id>.jsonl` (on Drive on Colab) as soon as
it ends, in groups of at most one batch: one JSON line per answer, flushed and fsynced, so a runtime
killed mid-study loses at most the answers of the batch being decoded. A torn last line (killed while
writing) is ignored on reading. Each answer is found again by a key that covers everything it depends on:
the base model, the adapter's weights (a hash of its file), the generation settings (not the batch size),
the chat flag, the probe set, the probe's id and the prompt exactly as the model reads it (system prompt and
date included). A rerun of 04, or of any one cell, takes what is stored and makes only what is missing; a
changed setting, adapter or prompt has another key, so a stale answer is never reused.

Before any claim runs, `prepare` makes every answer the study will ask for in one pass over all arms (one
progress bar, with an estimate printed once the speed is measured): it rehearses the claims with stand-in
arms that record each question and return placeholders, answers everything recorded, then rounds of the
DigiDan attempts that the real answers turn out to need. Asks the rehearsal cannot foresee (prompts built
from other answers, such as the judge's) are made when their cell runs, and stored the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..files import locks, storage
from ..llm import generation

MARK = "qqrehearsalqq"  # in every placeholder: a prompt built from one depends on an answer not yet made


@dataclass
class Request:
    """One `ask`: an arm answers a probe set's prompts (ids name them; None: their positions)."""
    arm: str
    probe: str
    prompts: list
    ids: list | None
    settings: generation.GenerationSettings
    chat: bool = True


# --- the store --------------------------------------------------------------------------------------------

class Store:
    """Answers on disk, one append-only JSON-lines file per arm and adapter; read once, then kept in memory."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.files: dict[Path, dict[str, str]] = {}
        self.torn = 0  # unreadable lines skipped (a write cut short by a crash)

    def path(self, arm: str, identity: str) -> Path:
        return self.folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', arm)}-{identity[:12]}.jsonl"

    def answers(self, path: Path) -> dict[str, str]:
        """key -> answer of one file (the first line of a key wins)."""
        if path not in self.files:
            found: dict[str, str] = {}
            if path.exists():
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        try:
                            row = json.loads(line)
                            found.setdefault(row["key"], row["answer"])
                        except (json.JSONDecodeError, KeyError, TypeError):
                            self.torn += bool(line.strip())
            self.files[path] = found
        return self.files[path]

    def append(self, path: Path, rows: list[dict]) -> None:
        """Add rows to the file: one write, flushed and fsynced before returning. A torn last line left by a
        crash is closed first, so that it stays one unreadable line and never swallows a new one."""
        if not rows:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        with open(path, "ab") as fh:
            if fh.tell() and not ends_with_newline(path):
                text = "\n" + text
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        found = self.answers(path)
        for r in rows:
            found.setdefault(r["key"], r["answer"])

    def lock(self):
        """One process at a time makes answers for a run (a second notebook gets a one-line error)."""
        return locks.acquire(self.folder / "answers.lock", "the probe study's generation", nested=True)


def ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def answer_key(base: str, adapter: str, probe: str, probe_id, text: str, settings, chat: bool) -> str:
    """What an answer depends on, hashed (the batch size changes how fast, not what)."""
    decided = {k: v for k, v in settings.as_dict().items() if k != "batch_size"}
    blob = json.dumps([base, adapter, probe, str(probe_id), text, decided, chat], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


# --- answering ---------------------------------------------------------------------------------------------

@dataclass
class Row:
    request: int
    index: int
    arm: str
    key: str
    path: Path
    prompt: generation.Prompt
    record: dict


def rows_of(arms, requests: list[Request]) -> tuple[list[list], list[Row]]:
    """(answers found in the store, None where missing; the rows still to make)."""
    store = arms.store  # None: answers are made, not kept (arms without a run folder of their own)
    out, missing = [], []
    for r, req in enumerate(requests):
        path = store.path(req.arm, arms.identity(req.arm)) if store else None
        found = store.answers(path) if store else {}
        got = []
        for i, prompt in enumerate(req.prompts):
            text = (generation.chat_text(arms.tokenizer, prompt, arms.cfg.system_prompt, arms.cfg.chat_date)
                    if req.chat else prompt)
            pid = req.ids[i] if req.ids else i
            key = answer_key(arms.base_identity(), arms.identity(req.arm), req.probe, pid, text, req.settings, req.chat)
            got.append(found.get(key))
            if got[-1] is None:
                adapter = None if req.arm == "base" else req.arm
                seed = generation.row_seed(req.settings.seed, key)
                made = generation.Prompt(text, req.settings, req.chat, adapter, seed)
                missing.append(Row(r, i, req.arm, key, path, made,
                                   {"key": key, "arm": req.arm, "probe": req.probe, "id": pid, "prompt": prompt,
                                    "settings": req.settings.as_dict(), "chat": req.chat,
                                    "adapter": arms.identity(req.arm), "base": arms.base_identity()}))
        out.append(got)
    return out, missing


def answer(arms, requests: list[Request], progress: bool = False) -> list[list[str]]:
    """The answers of every request: stored ones read, the rest made (all arms together where their adapters
    mix) and stored as they end. With `progress`: what is stored and what is to make, the estimate once the
    speed is measured, and one bar over all of it."""
    from ..llm import lora_mix

    out, missing = rows_of(arms, requests)
    unique: dict[str, Row] = {}
    for row in missing:
        unique.setdefault(row.key, row)
    todo = list(unique.values())
    total = sum(len(r.prompts) for r in requests)
    bar = None
    if progress and total:
        from tqdm.auto import tqdm

        tokens = sum(r.prompt.settings.max_new_tokens for r in todo)
        where = f" in {storage.shown_path(arms.store.folder)}" if arms.store else ""
        print(f"{total} answers: {total - len(missing)} already stored{where}, {len(todo)} to make "
              f"(at most {tokens:,} new tokens)", flush=True)
        bar = tqdm(total=total, initial=total - len(missing), desc="answers", unit="answer", smoothing=0.1)
    if todo:
        made: dict[str, str] = {}
        asked = Counter(row.key for row in missing)  # a key asked twice is made once and counts twice

        def store(done: list[tuple[int, str]], rows: list[Row]) -> None:
            by_file: dict[Path, list[dict]] = {}
            for index, text in done:
                row = rows[index]
                made[row.key] = text
                by_file.setdefault(row.path, []).append({**row.record, "answer": text})
            for path, records in by_file.items():
                if arms.store:
                    arms.store.append(path, records)
            if bar is not None:
                bar.update(sum(asked[rows[i].key] for i, _ in done))

        timing = estimate(todo, bar) if bar is not None else None
        adapters = [a for a in dict.fromkeys(r.arm for r in todo) if a != "base"]
        with arms.store.lock() if arms.store else contextlib.nullcontext():
            if adapters and lora_mix.unsupported(arms.model, adapters) is None:
                generation.answer(arms.model, arms.tokenizer, [r.prompt for r in todo], adapters=adapters,
                                  on_answers=lambda done: store(done, todo), on_timing=timing)
            else:
                for arm in dict.fromkeys(r.arm for r in todo):
                    rows = [r for r in todo if r.arm == arm]
                    plain = [dataclasses.replace(r.prompt, adapter=None) for r in rows]
                    with arms.use(arm) as model:
                        generation.answer(model, arms.tokenizer, plain, on_timing=timing,
                                          on_answers=lambda done, rows=rows: store(done, rows))
        for row in missing:
            out[row.request][row.index] = made[row.key]
    if bar is not None:
        bar.close()
    return out


def estimate(todo: list[Row], bar):
    """`on_timing` for the first pool: from the measured seconds per step and the rows decoding together, the
    time the whole pass takes at most (every answer to its allowance; real answers often stop sooner)."""
    said = []

    def timing(seconds: float, slots: int) -> None:
        if said:
            return
        said.append(True)
        steps = sum(r.prompt.settings.max_new_tokens for r in todo) / max(1, slots)
        minutes = steps * seconds / 60
        bar.write(f"measured {seconds * 1000:.1f} ms a decoding step at {slots} answers at a time: the "
                  f"{len(todo)} answers take at most ~{minutes:.1f} min (less where answers end before their "
                  f"allowance)")

    return timing


# --- rehearsing the study ------------------------------------------------------------------------------------

class Rehearsal:
    """Stand-in arms for a dry run of the claims: stored answers where they exist; otherwise the ask is
    recorded and placeholders returned. Scoring returns dummy losses."""

    can_score = True

    def __init__(self, arms):
        self.arms, self.asked = arms, []

    def __getattr__(self, name):
        return getattr(self.arms, name)

    def generate(self, arm: str, prompts: list, settings, *, probe: str, ids=None, chat: bool = True) -> list[str]:
        request = Request(arm, probe, list(prompts), ids, settings, chat)
        found, _ = rows_of(self.arms, [request])
        if all(a is not None for a in found[0]):
            return found[0]
        if not any(MARK in json.dumps(p, ensure_ascii=False) for p in prompts):
            self.asked.append(request)
        return [a if a is not None else placeholder(settings, probe, i) for i, a in enumerate(found[0])]

    def losses(self, arm: str, texts: list[str], window: int = 256, min_tokens: int = 32):
        return [(i, 1.0) for i in range(len(texts))]

    def was_cut(self, answer: str, settings) -> bool:
        return False


def placeholder(settings, probe: str, index: int) -> str:
    """A stand-in answer as long as a full one, of whole sentences, unique per probe, row and seed (so that
    the DigiDan test takes it as a usable option and asks no further attempt for it)."""
    tag = generation.row_seed(probe, index, settings.seed) % 10 ** 6
    words = [f"w{tag}x{i}" + ("." if i % 8 == 7 else "") for i in range(max(16, settings.max_new_tokens * 3 // 4))]
    return MARK + " " + " ".join(words)


def rehearsal_copy(study):
    """The study with stand-in arms, its own cache and few resamples (the claims' tables are thrown away)."""
    return dataclasses.replace(study, arms=Rehearsal(study.arms), cache={},
                               cfg=study.cfg.replace(bootstrap_samples=100))


def rehearse(study) -> list[Request]:
    """Every ask the study's claims make, found by running them on stand-in arms (`Rehearsal`)."""
    import matplotlib.pyplot as plt

    from . import domination, inextricability, replica, steerability
    from .study import fit_authorship

    copy = rehearsal_copy(study)
    before = set(plt.get_fignums())
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        steps = [lambda: fit_authorship(copy)] + [lambda m=m: m.run(copy)
                                                   for m in (inextricability, steerability, replica, domination)]
        for step in steps:
            try:
                step()
            except Exception:  # a claim that cannot run on placeholders: its asks are made when its cell runs
                continue
    for number in set(plt.get_fignums()) - before:
        plt.close(number)
    return copy.arms.asked


def digidan_rounds(study, progress: bool = False) -> int:
    """The DigiDan attempts the stored answers show to be needed, all arms together, round after round; returns
    the rounds made. Rehearsed with usable placeholders for what is missing, an item short of d usable answers
    asks exactly its next d attempts: each of them will be asked whatever the answers turn out to be."""
    from . import replica

    rounds = 0
    while True:
        copy = rehearsal_copy(study)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for arm in study.model_arms:
                try:
                    replica.digidan_items(copy, arm)
                except Exception:  # made when the claim runs, then
                    continue
        if not copy.arms.asked:
            return rounds
        answer(study.arms, copy.arms.asked, progress=progress)
        rounds += 1


def prepare(study) -> None:
    """Make every answer the study will ask for before its claims run (see the module's docstring)."""
    arms = study.arms
    if getattr(arms, "store", None) is None:
        return  # oracle arms (texts of known origin: nothing to generate), or arms that keep no answers
    started = time.perf_counter()
    requests = rehearse(study)
    answer(arms, requests, progress=True)
    rounds = digidan_rounds(study, progress=True)
    print(f"every answer the study asks for is stored ({time.perf_counter() - started:.0f} s"
          f"{f', {rounds} further DigiDan rounds' if rounds else ''})", flush=True)
