"""Known noise a user cannot act on, silenced only while a stage sets up and trains, then restored (the rest of
the libraries' notices go to the run's log for the whole session: `lib.runtime.logs`, which the setup cell calls).

- bitsandbytes asks for an optional CPU kernel package when it loads;
- transformers 5 deprecation notices fire from inside TRL;
- TRL warns that packing without FlashAttention may let samples attend to each other. With transformers >= 5
  and padding-free rows (position ids, no attention mask) the SDPA, eager and flex paths build a block-diagonal
  mask, so they cannot: tests/test_training.py checks it on every run.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator


class _PackingIsSafe(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage().lower()  # TRL 1.x and TRL 0.29 (Colab's) word it differently
        return not ("flash attention variant" in text and ("packing" in text or "padding-free" in text))


@contextlib.contextmanager
def known_noise_silenced() -> Iterator[None]:
    bnb = logging.getLogger("bitsandbytes.backends.cpu.ops")
    trl = logging.getLogger("trl.trainer.sft_trainer")
    level, safe = bnb.level, _PackingIsSafe()
    bnb.setLevel(logging.ERROR)
    trl.addFilter(safe)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*deprecated and will be removed in v6.*",
                                    category=FutureWarning)
            warnings.filterwarnings("ignore", message=r"(?is).*(packing|padding-free).*flash attention variant")
            yield
    finally:
        bnb.setLevel(level)
        trl.removeFilter(safe)
