"""Helpers for the notebooks: fine-tune an open LLM on one person's writings and study what comes out.

Grouped by the flow of the data: `lib.data` (01: corpus -> data/processed/), `lib.train` (02, 03: adapters
per run), `lib.study` (04: the probe study and its report); shared pieces at the top (config, storage, colab,
hardware, models, generation with decoding, choosing and lora_mix, chat, display, plots, runner, tiny).
Importing `lib` is cheap and changes nothing in the process: heavy libraries load inside the functions that need them.
"""
