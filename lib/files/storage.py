"""Where things live, how they are shown and how they are written: atomically, with hashes.

A run lives in `outputs/<run_name>/` (on Colab, in the Drive workspace, so a disconnect loses nothing).
Every file is written to a temporary name beside its target and renamed into place, so a crash leaves
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import colab
from .disk import StorageError, check_writable, describe_os_error, explained, write_problem  # noqa: F401

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def workspace() -> Path:
    """The folder that holds outputs/ and data/processed/: the Drive workspace on Colab, else the project."""
    if colab.in_colab() and colab.DRIVE_MOUNT.exists():
        return colab.DRIVE_WORKSPACE
    return PROJECT_ROOT


def resolve(path: str | Path, base: Path | None = None) -> Path:
    """An absolute path; relative ones are taken from the project root (or `base`)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base or PROJECT_ROOT) / path


def find_input(path: str | Path) -> Path:
    """An input the researcher names: absolute, or relative to the project, or to the Drive workspace."""
    candidate = resolve(path)
    if not candidate.exists() and not Path(path).is_absolute():
        on_drive = workspace() / path
        if on_drive.exists():
            return on_drive
    return candidate


def outputs_dir() -> Path:
    """Runs go here; `P4_OUTPUTS` in the environment moves them (tests, shared lab disks)."""
    if os.environ.get("P4_OUTPUTS"):
        return Path(os.environ["P4_OUTPUTS"]).expanduser()
    return workspace() / "outputs"


def processed_dir(cfg) -> Path:
    return resolve(cfg.processed_dir, workspace())


def run_dir(run_name: str) -> Path:
    return outputs_dir() / run_name


def shown_path(value) -> str:
    """A path as a shared page may show it: from the project folder (or the outputs folder) when it lies there,
    else its name alone; never the machine's own folders."""
    path = Path(value)
    if not path.is_absolute():
        return str(value)
    for base, prefix in ((outputs_dir(), "outputs"), (PROJECT_ROOT, "")):
        try:
            rest = path.resolve().relative_to(Path(base).resolve())
        except (ValueError, OSError):
            continue
        return str(Path(prefix) / rest) if prefix else str(rest)
    return path.name


# --- atomic writes ----------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename."""
    target = Path(target)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        with explained(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            # created as an ordinary file would be (0666 less the umask), not 0600 like mkstemp's
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            yield Path(tmp)
            os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: str | Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
    return rows


class RecordError(ValueError):
    """A record the project wrote (a manifest) that cannot be read as one: edited by hand, or cut short."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this one line instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def read_record(path: str | Path, required: tuple[str, ...] = (), todo: str = "restore it") -> dict:
    """A JSON object the project wrote, with the `required` keys ("config.model": a key inside a key); one line
    naming the file and what to do when it does not read or lacks one, never a KeyError from deep inside."""
    path = Path(path)
    try:
        record = read_json(path)
    except UnicodeDecodeError:
        record = None
    except ValueError as exc:  # json.JSONDecodeError
        raise RecordError(f"{path}: not valid JSON ({getattr(exc, 'msg', exc)}; edited by hand or cut short?); "
                          f"{todo}") from None
    if not isinstance(record, dict):
        raise RecordError(f"{path}: not a record this version can read; {todo}")
    for key in required:
        if not has_path(record, key):
            raise RecordError(f"{path}: has no '{key}' (edited by hand?); {todo}")
    return record


def has_path(record: dict, key: str) -> bool:
    """Whether the dotted `key` is present (its value may be null)."""
    for part in key.split("."):
        if not isinstance(record, dict) or part not in record:
            return False
        record = record[part]
    return True


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def replace_dir(staging: Path, target: Path) -> None:
    """Swap a fully written staging folder into place (the old one is removed only after).

    The swap is two renames; a process killed between them leaves the old folder as `.<name>.old` and no
    `<name>`, which `recover_dir` (called by every reader and writer of such folders) puts back.
    """
    with explained(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        recover_dir(target)
        old = None
        if target.exists():
            old = old_copy(target)
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def old_copy(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover_dir(target: Path) -> bool:
    """Undo a swap cut short between its two renames: put the old folder back. True if it did."""
    old = old_copy(target)
    if target.exists() or not old.is_dir():
        return False
    os.replace(old, target)
    print(f"{target}: restored from {old.name} (a run was stopped while replacing it)")
    return True


def staging_dir(target: Path) -> Path:
    """A fresh empty folder beside `target` to write into before `replace_dir`.

    Made like an ordinary folder (0777 less the umask), so that the folder swapped into place is readable
    by the same people as any other (tempfile's folders are private, 0700).
    """
    with explained(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        while True:
            path = target.parent / f".{target.name}.{secrets.token_hex(6)}.staging"
            try:
                os.mkdir(path, 0o777)
                return path
            except FileExistsError:
                continue


def clean_staging(target: Path) -> list[Path]:
    """Remove staging folders that killed runs left beside `target` (call it holding `target`'s lock)."""
    recover_dir(target)
    left = [p for p in target.parent.glob(f".{target.name}.*.staging") if p.is_dir()]
    if target.exists() and old_copy(target).is_dir():
        left.append(old_copy(target))
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    return left


@contextlib.contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (child processes inherit them), then restore."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

