"""The arms of the study: the base model, each trained adapter of a run, and retrieval.

The base model is loaded once; the adapters (stage 1, stage 1 + 2, SFT only) are loaded on top of it and
switched, so an arm costs a few megabytes, not another copy of the model. Every generation goes through
`Arms.generate`, which takes stored answers from the run's answer store (`lib.study.answers`), makes the
missing ones, and records the arm, the prompt, the answer and the settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from ..files import storage
from ..llm import generation, models
from ..train import folders
from . import answers

ADAPTERS = folders.ARMS
LABELS = {"base": "base", **folders.LABELS, "retrieval": "retrieval"}


class Arms:
    store: answers.Store | None = None  # where answers are kept (a subclass without a run of its own keeps none)

    def __init__(self, cfg, run_name: str | None = None):
        from peft import PeftModel

        self.run = storage.run_dir(run_name or cfg.run_name)
        found = [name for name in ADAPTERS if (self.run / name / "manifest.json").exists()]
        self.cfg = models.trained_settings(cfg, self.run / found[0]) if found else cfg
        loaded = models.load_model(self.cfg, backend="hf")
        self.tokenizer = loaded.tokenizer
        self.model = loaded.model
        for i, name in enumerate(found):
            adapter = str(self.run / name / "adapter")
            if i == 0:
                self.model = PeftModel.from_pretrained(self.model, adapter, adapter_name=name)
            else:
                self.model.load_adapter(adapter, adapter_name=name)
        self.names = ["base", *found]
        self.records: list[dict] = []
        self.store = answers.Store(self.run / "probe" / "answers")
        self._identities: dict[str, str] = {}

    @contextlib.contextmanager
    def use(self, arm: str):
        """Generate or score with one arm: the base model has every adapter switched off."""
        if arm not in self.names:
            raise KeyError(f"no arm '{arm}' in {self.run} (arms: {', '.join(self.names)})")
        if arm == "base":
            if hasattr(self.model, "disable_adapter"):
                with self.model.disable_adapter():
                    yield self.model
            else:
                yield self.model
        else:
            self.model.set_adapter(arm)
            yield self.model

    def identity(self, arm: str) -> str:
        """What an arm's answers depend on besides the base: a hash of its adapter's weights ("base": none)."""
        self._identities = getattr(self, "_identities", {})
        if arm not in self._identities:
            weights = self.run / arm / "adapter" / "adapter_model.safetensors"
            self._identities[arm] = "base" if arm == "base" else (
                storage.sha256(weights)[:16] if weights.exists() else f"unsaved-{arm}")
        return self._identities[arm]

    def base_identity(self) -> str:
        """The base model: its name or folder, how it is loaded, and for a local folder a hash of its config and
        of the start of its weights (a folder rebuilt with other weights is another base)."""
        self._identities = getattr(self, "_identities", {})
        if "" not in self._identities:
            net = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
            parts = [str(self.cfg.model), bool(self.cfg.load_in_4bit), str(net.dtype)]
            folder = Path(str(models.model_path(self.cfg)))
            if folder.is_dir():
                digest = hashlib.sha256()
                for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")):
                    with open(path, "rb") as fh:
                        digest.update(path.name.encode() + fh.read(1 << 20))
                parts.append(digest.hexdigest()[:16])
            self._identities[""] = json.dumps(parts)
        return self._identities[""]

    def generate(self, arm: str, prompts: list, settings: generation.GenerationSettings, *, probe: str,
                 ids: list[str] | None = None, chat: bool = True) -> list[str]:
        if arm not in self.names:
            raise KeyError(f"no arm '{arm}' in {self.run} (arms: {', '.join(self.names)})")
        made = answers.answer(self, [answers.Request(arm, probe, list(prompts), ids, settings, chat)])[0]
        for i, (prompt, answer) in enumerate(zip(prompts, made)):
            self.records.append({"probe": probe, "id": ids[i] if ids else i, "arm": arm, "chat": chat,
                                 "prompt": prompt, "answer": answer, "settings": settings.as_dict()})
        return made

    can_score = True  # a model: it can score text (perplexity), not only answer

    def losses(self, arm: str, texts: list[str], window: int = 256, min_tokens: int = 32) -> list[tuple[int, float]]:
        """(index of the text, mean loss) of each `window`-token piece of the texts scored by an arm; pieces under
        `min_tokens` (titles, tails) are not units of their own."""
        with self.use(arm) as model:
            return generation.window_losses(model, self.tokenizer, texts, window, min_tokens=min_tokens, indexed=True)

    def was_cut(self, answer: str, settings: generation.GenerationSettings) -> bool:
        """An answer that used up its token allowance was cut there, not finished."""
        return len(self.tokenizer(answer, add_special_tokens=False)["input_ids"]) >= settings.max_new_tokens - 1
