"""Keeping a token out of the notebook papermill saves, when papermill was told to inject it.

`papermill in.ipynb out.ipynb -p hf_token hf_...` writes the value into the injected-parameters cell and
into the notebook's metadata, and saves `out.ipynb` from its own process: at the start, after cells, and
once more after the kernel has shut down. The kernel cannot change what papermill holds, so when the
configuration cell finds a secret in a cell's source it refuses to run and starts this watcher, detached
from the kernel: it finds papermill's output path on papermill's command line (the kernel's parent
process), and replaces the secret in that file each time papermill writes it, until papermill has exited.

Run as `python -m lib.runtime.scrub PID PATH` with the secrets on standard input, one per line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ..files import locks, storage
from ..settings import secret

PATIENCE = 6 * 3600  # the longest a watcher waits for papermill to finish


def papermill_output(pid: int | None = None) -> Path | None:
    """The output notebook of the papermill command line running process `pid` (the kernel's parent)."""
    pid = pid or os.getppid()
    try:
        args = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None   # not Linux, or no such process
    start = next((i + 1 for i, a in enumerate(args) if Path(a).name == "papermill"), None)
    if start is None:
        return None
    try:
        from papermill.cli import papermill as command

        output = command.make_context("papermill", args[start:], resilient_parsing=True).params.get("output_path")
    except Exception:  # another papermill version: the second notebook path on the line
        paths = [a for a in args[start:] if a.endswith(".ipynb")]
        output = paths[1] if len(paths) > 1 else None
    if not output or output == "-" or "://" in output:
        return None
    return cwd / output


class SecretInSource(ValueError):
    """A secret written literally in a notebook cell (papermill injected it, or someone typed it)."""


def refuse_in_sources(namespace: dict) -> None:
    """Stop a notebook whose cells hold a secret literally; if papermill injected it, the copy papermill
    saves is scrubbed (`scrub_later`)."""
    names, values = secret.in_cell_sources(namespace)
    if not values:
        return
    scrubbed = scrub_later(values)
    then = ("the notebook papermill saves is scrubbed of it" if scrubbed else
            "remove it from the cell, delete any saved copy of this notebook, and revoke the token")
    raise SecretInSource(f"notebook: {', '.join(sorted(names)) or 'a cell'} holds a secret written out in a cell; "
                         f"tokens are never notebook parameters ({secret.WHERE}); {then}")


def scrub_later(secrets: set[str]) -> bool:
    """Start a detached watcher that removes `secrets` from papermill's output notebook; False if this
    kernel was not started by a papermill command line (nothing to watch)."""
    target = papermill_output()
    if target is None or not secrets:
        return False
    proc = subprocess.Popen([sys.executable, "-m", "lib.runtime.scrub", str(os.getppid()), str(target)],
                            cwd=storage.PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    proc.stdin.write("\n".join(sorted(secrets)) + "\n")   # never on a command line, where `ps` shows it
    proc.stdin.close()
    return True


def scrub_file(path: Path, secrets: set[str]) -> bool:
    """Replace every secret in the file (atomically); True if anything was replaced."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    cleaned = secret.redact(text, secrets)
    if cleaned == text:
        return False
    storage.write_text(path, cleaned)
    return True


def watch(pid: int, path: Path, secrets: set[str], interval: float = 0.2) -> None:
    """Scrub `path` whenever papermill (process `pid`) rewrites it, and once more after it exits."""
    deadline = time.time() + PATIENCE
    while time.time() < deadline and locks.pid_alive(pid):
        scrub_file(path, secrets)
        time.sleep(interval)
    time.sleep(interval)
    scrub_file(path, secrets)


def main(argv: list[str]) -> int:
    secrets = {line.strip() for line in sys.stdin if line.strip()}
    watch(int(argv[0]), Path(argv[1]), secrets)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
