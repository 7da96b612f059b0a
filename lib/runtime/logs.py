"""Library noise out of what people read: warnings and the libraries' log records go to the run's log file.

A shared page (a notebook's HTML copy, the report) should hold the project's own lines: bitsandbytes' notice
about an optional kernels package, transformers' deprecation warnings (which carry the paths of the machine
that ran them) and unsloth's banners are for a maintainer, so `to_log` sends them, for the whole session, to a
log file the page links to, and `folded` keeps what a library prints out of the output. The setup cell calls
both (`lib.colab.setup`); `lib.train.quiet` still silences the known noise of training while it runs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

LIBRARIES = ("bitsandbytes", "transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub", "tokenizers",
             "unsloth", "unsloth_zoo", "torch", "torchao", "xformers", "triton", "filelock", "fsspec", "urllib3",
             "matplotlib", "PIL", "wandb", "tensorboard", "papermill", "nbconvert")
HANDLER = "p4-library-log"


def to_log(path: str | Path) -> Path:
    """From now on, in this process, warnings (Python's `warnings`) and what the libraries log go to `path`
    (appended), not into the notebook's output: a reader of a shared page sees the project's own lines, and the
    log keeps every notice (with the paths and versions a maintainer needs). Calling again moves the log."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.set_name(HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == HANDLER]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.propagate = False
    try:  # transformers prints through its own handler on stderr, made when it is first imported: only ours stays
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_default_handler()
    except ImportError:
        pass
    warnings.showwarning = functools.partial(_warning_to_log, path)
    return path


def _warning_to_log(path: Path, message, category, filename, lineno, file=None, line=None) -> None:
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%H:%M:%S')} {warnings.formatwarning(message, category, filename, lineno, line)}")


@contextlib.contextmanager
def folded(what: str, log: str | Path | None = None) -> Iterator[list[str]]:
    """Whatever a library prints while the block runs (unsloth's banners) is kept out of the output: appended to
    `log` when given, and its count left in the yielded list for the caller's one line."""
    out, err = io.StringIO(), io.StringIO()
    kept: list[str] = []
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield kept
    finally:
        text = out.getvalue() + err.getvalue()
        kept += [line for line in text.splitlines() if line.strip()]
        if log and text.strip():
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(f"{time.strftime('%H:%M:%S')} {what}:\n{text}\n")
