"""Helpers for the notebooks: fine-tune an open LLM on one person's writings and study what comes out.

One module per job: config, corpus, cleaning, chunking, pairs, prepare (the data stage), models, tiny
(the offline stand-in model), training, generation, plots, display, storage, colab, runner. Importing
`lib` is cheap: heavy libraries load inside the functions that need them.
"""

import logging
import warnings

# Known noise that a user cannot act on: bitsandbytes asks for an optional CPU kernel package on every
# import, and transformers 5 deprecation notices fire from inside TRL.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=r".*deprecated and will be removed in v6.*", category=FutureWarning)


class _KnownSafe(logging.Filter):
    """TRL warns that packing without FlashAttention may let samples attend to each other. With
    transformers >= 5 and padding-free batches (position ids, no attention mask) the SDPA and eager paths
    build a block-diagonal mask, so they cannot: tests/test_training.py checks it on every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not ("Flash Attention variant" in text and ("Packing" in text or "Padding-free" in text))


logging.getLogger("trl.trainer.sft_trainer").addFilter(_KnownSafe())
