"""Training: a base model plus LoRA adapters, trained in two stages on `data/processed/`, saved per run.

`stage` runs a stage end to end (folders, settings, trainer, lora, packing, speedups, callbacks, manifest are
its parts); `review` shows a trained stage beside the base model; `export` saves merged and GGUF copies.
Reads the processed data through `lib.data.processed`; writes `outputs/<run>/<stage>/`.
"""
