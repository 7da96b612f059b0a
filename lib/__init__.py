"""Helpers for the notebooks: fine-tune an open LLM on one person's writings and study what comes out.

Grouped by job. Along the flow of the data: `lib.data` (01: corpus -> data/processed/), `lib.train` (02, 03:
adapters per run), `lib.study` (04: the probe study and its report). Shared by all three: `lib.settings`
(config.yaml, flags and parameters, checked), `lib.files` (paths, atomic writes, locks), `lib.runtime`
(installing, papermill, logs), `lib.llm` (loading, generating, chat), `lib.view` (tables and figures).
`lib.colab` stays at the top: the notebooks' first cell finds the project by it and calls its `setup`.
Importing `lib` is cheap and changes nothing in the process: heavy libraries load inside the functions that need them.
"""
