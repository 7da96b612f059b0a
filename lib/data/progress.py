"""Progress bars for the data stage's loops over documents: a corpus of thousands of letters takes a while,
and a stage that prints nothing for a minute looks hung. A bar shows only once a loop has run `AFTER`
seconds (the sample's dozen essays never show one), in a notebook as a widget, on a terminal as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
AFTER = 3.0  # seconds a loop runs before its bar appears


def progress(items: Iterable[T], what: str) -> Iterator[T]:
    """`items`, with a bar labelled `what` (documents per second) once the loop takes more than `AFTER` s."""
    from tqdm.auto import tqdm

    return iter(tqdm(items, desc=what, unit="doc", delay=AFTER, leave=False))
