"""Writes that fail for reasons outside the program: a full disk, a read-only folder, no permission.

Each becomes one line that names the file or folder, says in plain words what is wrong, and what to do,
instead of a traceback from deep inside a library (torch.save, safetensors, the trainer).
"""

from __future__ import annotations

import contextlib
import errno
import json
import secrets
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path


class StorageError(RuntimeError):
    """A file or folder that cannot be written (full disk, read-only folder); the message names it."""


# what a failed write means, and what to do about it
WRITE_ERRORS = {
    errno.ENOSPC: ("the disk is full", "free some space, or move the outputs (P4_OUTPUTS) or processed_dir"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or move the outputs (P4_OUTPUTS) or processed_dir"),
    errno.EROFS: ("the folder is on a read-only file system", "choose a writable folder (P4_OUTPUTS, processed_dir)"),
    errno.EACCES: ("permission denied (a read-only folder?)", "make it writable, or choose another folder"),
    errno.EPERM: ("operation not permitted (a read-only or locked folder?)", "make it writable, or choose another folder"),
}


def describe_os_error(exc: OSError, path: str | Path | None = None) -> str:
    """One line for a failed file operation: the file, what went wrong in plain words, what to do."""
    name = exc.filename or path or "a file"
    if exc.errno in WRITE_ERRORS:
        what, todo = WRITE_ERRORS[exc.errno]
        return f"{name}: {what}; {todo}"
    return f"{name}: {exc.strerror or exc}"


def write_problem(exc: BaseException, folder: str | Path) -> str | None:
    """One line for an error that a full disk or a read-only folder caused deep inside a library (the
    trainer's torch.save, safetensors), or None for any other error."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 5:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for err in chain:
        if isinstance(err, StorageError):
            return str(err)
        if isinstance(err, OSError) and err.errno in WRITE_ERRORS:
            return describe_os_error(err, folder)
    text = " ".join(str(err) for err in chain)
    full = "No space left" in text or "StorageFull" in text or "write failed" in text and free_bytes(folder) < 50e6
    if full:
        return describe_os_error(OSError(errno.ENOSPC, "No space left on device"), folder)
    if "Read-only file system" in text or "ReadOnlyFilesystem" in text:
        return describe_os_error(OSError(errno.EROFS, "Read-only file system"), folder)
    return None


def free_bytes(folder: str | Path) -> float:
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return float("inf")


@contextlib.contextmanager
def explained(path: str | Path) -> Iterator[None]:
    """Turn a full disk or a read-only folder, while writing `path`, into a one-line `StorageError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            raise
        raise StorageError(describe_os_error(exc, path)) from None


def check_writable(folder: Path) -> None:
    """Fail now, in one line, if `folder` cannot be written (read-only, no permission, no space)."""
    probe = folder / f".write-check-{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            probe.write_bytes(b"\0" * 4096)
        finally:
            probe.unlink(missing_ok=True)
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            raise
        raise StorageError(describe_os_error(OSError(exc.errno, exc.strerror), folder)) from None


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file cannot be whole (cut short by a kill or a full disk), or None.

    The file is an 8-byte header length, a JSON header giving each tensor's byte range, then the data: its
    size must be exactly what the header says. Read without loading a single tensor.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > size:
                raise ValueError
            header = json.loads(fh.read(length))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return f"{path}: damaged (not a readable safetensors file)"
    if size < 8 + length + end:
        return f"{path}: truncated ({size:,} of {8 + length + end:,} bytes; the save was cut short?)"
    return None


def adapter_problem(folder: Path, required: bool = False) -> str | None:
    """Why the LoRA weights in `folder` (an adapter or a checkpoint) cannot be used, or None; a folder without
    them is a problem only when they are `required`."""
    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        return f"{weights}: missing" if required else None
    return safetensors_problem(weights)
