"""The generation path as it was at commit 8f16baa (`generation_8f16baa.py`, `decoding_8f16baa.py`, unchanged),
loaded as modules of their own so that a benchmark times it against `lib` in the same process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load():
    """(previous generation module, previous decoding module); their two relative imports point at the
    previous decoding module and at `lib.llm.models`."""
    if "p4_previous_generation" in sys.modules:
        return sys.modules["p4_previous_generation"], sys.modules["p4_previous_decoding"]
    modules = {}
    for name in ("decoding", "generation"):
        source = (HERE / f"{name}_8f16baa.py").read_text()
        source = source.replace("from . import decoding", "import p4_previous_decoding as decoding")
        source = source.replace("from .models import", "from lib.llm.models import")
        spec = importlib.util.spec_from_loader(f"p4_previous_{name}", loader=None)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        exec(compile(source, str(HERE / f"{name}_8f16baa.py"), "exec"), module.__dict__)
        modules[name] = module
    return modules["generation"], modules["decoding"]
