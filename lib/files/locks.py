"""Run locks: two runs that would write the same run folder or the same processed data never run at once.

A lock is a small file created with O_CREAT|O_EXCL (atomic on local disks and on Google Drive's file
system, where fcntl locks are not kept), holding who took it: process id, host and time. A second run
fails at once with one line that says who holds it. A lock whose process is gone is taken over: at once
when that process ran on this machine (its pid no longer exists), and after `STALE_AFTER` seconds without
a heartbeat when it ran elsewhere (a Colab session that disconnected). The holder refreshes the heartbeat
(the file's modification time) while it lives, from a daemon thread.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HEARTBEAT = 30.0        # seconds between refreshes of a held lock
STALE_AFTER = 180.0     # a lock from another machine not refreshed for this long is taken over
_held: dict[str, "Lock"] = {}   # path -> lock held by this process (re-entrant within it)
_guard = threading.Lock()


class LockHeld(RuntimeError):
    """Another run holds the lock; the message says who, since when, and what to do."""


class Lock:
    """A held lock; `release()` (or leaving a `with` block) gives it back."""

    def __init__(self, path: Path, owner: dict):
        self.path, self.owner, self.depth = path, owner, 1
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"lock {path.name}", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        with _guard:
            if self.depth <= 0:
                return
            self.depth -= 1
            if self.depth:
                return
            _held.pop(str(self.path), None)
        atexit.unregister(self.release)
        self._stop.set()
        try:
            if read_owner(self.path).get("token") == self.owner["token"]:
                self.path.unlink()
        except OSError:
            pass

    def __enter__(self) -> "Lock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(path: str | Path, what: str, nested: bool = True) -> Lock:
    """Take the lock file `path` for `what` (shown to whoever finds it held), or raise `LockHeld`.

    Within one process a held lock is taken again: `nested` counts it (each `release` gives back one
    level), otherwise the same lock is handed back as it is (a notebook cell run twice).
    """
    path = Path(path)
    with _guard:
        if str(path) in _held:
            _held[str(path)].depth += 1 if nested else 0
            return _held[str(path)]
        path.parent.mkdir(parents=True, exist_ok=True)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                 "since": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
                 "token": secrets.token_hex(8)}
        for attempt in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = read_owner(path)
                reason = stale(path, held)
                if reason is None or attempt == 2:
                    raise LockHeld(held_message(path, held)) from None
                take_over(path, held, reason)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(owner, fh)
            lock = Lock(path, owner)
            _held[str(path)] = lock
            atexit.register(lock.release)
            return lock
    raise AssertionError("unreachable")


def read_owner(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}   # being written this instant, or damaged


def stale(path: Path, owner: dict) -> str | None:
    """Why a lock may be taken over (its process is gone), or None while it may still be in use."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return "released"
    if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        return None if pid_alive(owner["pid"]) else f"process {owner['pid']} has ended"
    if age > STALE_AFTER:
        return f"no sign of life for {age:.0f} s"
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def take_over(path: Path, owner: dict, reason: str) -> None:
    """Move a stale lock aside (one rename: of two processes taking over, only one succeeds)."""
    try:
        os.replace(path, path.with_name(f"{path.name}.stale-{secrets.token_hex(4)}"))
    except FileNotFoundError:
        return
    for old in path.parent.glob(f"{path.name}.stale-*"):
        old.unlink(missing_ok=True)
    print(f"taking over the lock {path} ({owner.get('what', 'a run')}, pid {owner.get('pid')} on "
          f"{owner.get('host')}): {reason}")


def held_message(path: Path, owner: dict) -> str:
    who = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')} since {owner.get('since', '?')}"
    return (f"{path}: {owner.get('what', 'another run')} is already running ({who}); wait for it to finish, "
            f"or choose another run_name / processed_dir. If that process is gone, delete {path.name}")
