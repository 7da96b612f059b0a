"""Talking to a tuned model: a chat box for Colab (ipywidgets) and the `python -m lib chat` loop.

Both keep the conversation as a list of messages and answer through `generation.generate`, so what the
researcher sees in chat is produced exactly like the study's generations. Under papermill the box is
drawn but inert: widget callbacks only fire in a live kernel.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..files import disk, storage
from ..settings import config as config_mod
from ..settings import sample
from . import generation, models

ARMS = ("instruction", "sft_only", "pretraining")  # the run's stage folders, most tuned first


class Conversation:
    """A running chat: the messages so far and how to answer the next one."""

    def __init__(self, model, tokenizer, cfg, settings: generation.GenerationSettings | None = None):
        self.model, self.tokenizer, self.cfg = model, tokenizer, cfg
        self.settings = settings or generation.GenerationSettings(max_new_tokens=cfg.max_new_tokens)
        self.messages: list[dict] = []

    def ask(self, text: str) -> str:
        self.messages.append({"role": "user", "content": text})
        answer = generation.generate(self.model, self.tokenizer, [self.messages], self.settings,
                                     system_prompt=self.cfg.system_prompt, chat_date=self.cfg.chat_date)[0]
        self.messages.append({"role": "assistant", "content": answer})
        return answer

    def reset(self) -> None:
        self.messages.clear()


def chat_box(conversation: Conversation):
    """A text box, Send and Clear buttons, and the transcript below them."""
    import html

    import ipywidgets as widgets

    box = widgets.Textarea(placeholder="Ask the tuned model something ...", layout=widgets.Layout(width="100%"))
    send, clear = widgets.Button(description="Send", button_style="primary"), widgets.Button(description="Clear")
    transcript = widgets.HTML()

    def render():
        transcript.value = "".join(
            f"<p><b>{'You' if m['role'] == 'user' else 'Model'}:</b> {html.escape(m['content'])}</p>"
            for m in conversation.messages)

    def on_send(_):
        if box.value.strip():
            conversation.ask(box.value.strip())
            box.value = ""
            render()

    def on_clear(_):
        conversation.reset()
        render()

    send.on_click(on_send)
    clear.on_click(on_clear)
    return widgets.VBox([box, widgets.HBox([send, clear]), transcript])


# --- command line ---------------------------------------------------------------------------------

def find_adapter(target: str) -> Path:
    """An adapter folder from a run name, a stage folder, or the adapter folder itself."""
    path = Path(target).expanduser()
    candidates = [path, path / "adapter"] + [storage.run_dir(target) / arm / "adapter" for arm in ARMS]
    for candidate in candidates:
        if (candidate / "adapter_config.json").exists():
            return candidate
    raise FileNotFoundError(f"{target}: no adapter there (give a run name, a stage folder or an adapter folder)")


def load_for_chat(target: str, cfg):
    """Base model + adapter, with the settings the stage was trained with when its manifest says them."""
    from peft import PeftModel

    adapter = find_adapter(target)
    if problem := disk.adapter_problem(adapter):
        raise ValueError(f"{problem}; train that stage again, or chat with another adapter")
    cfg = models.trained_settings(cfg, adapter.parent)
    loaded = models.load_model(cfg, backend="hf")
    return PeftModel.from_pretrained(loaded.model, str(adapter)), loaded.tokenizer, cfg, adapter


def run_cli(target: str, cfg: config_mod.Config, prompt: str | None, test: bool, interactive: bool) -> None:
    model, tokenizer, cfg, adapter = load_for_chat(target, cfg)
    conversation = Conversation(model, tokenizer, cfg)
    print(f"adapter: {adapter}")
    if prompt is not None:
        if not prompt.strip():
            raise ValueError("--prompt is empty: give the text to answer, or --interactive to talk")
        show(prompt, conversation.ask(prompt))
    if test:
        sample.warn(cfg, "compare_prompts")
        for question in generation.read_prompts(storage.resolve(cfg.compare_prompts)):
            conversation.reset()
            show(question, conversation.ask(question))
    if interactive:
        print("Type a message; 'reset' starts over, 'exit' (or Ctrl-D) ends.")
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                break
            if text in ("exit", "quit"):
                break
            if text == "reset":
                conversation.reset()
            elif text:
                print(f"model> {printable(conversation.ask(text))}")


def show(prompt: str, answer: str) -> None:
    print(f"PROMPT: {printable(prompt)}\n{'-' * 40}\nRESPONSE: {printable(answer)}\n")


# control characters (line breaks and tabs aside) and the marks that reorder text: a terminal would act on them
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text as a terminal should show a model's answer: control characters written out (`\\x1b`), not obeyed."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
