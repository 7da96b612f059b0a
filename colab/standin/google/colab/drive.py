"""`drive.mount(path)`: bind-mounts the check's persistent "Drive" folder at `path/MyDrive`.

The check runs each runtime in its own mount namespace, so the bind mount is seen by that runtime only and
vanishes with it, like a Colab runtime's mount. Idempotent, as Colab's is.
"""

import os
import subprocess
from pathlib import Path


def mount(mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000, readonly: bool = False) -> None:
    store = os.environ.get("COLAB_STANDIN_DRIVE")
    if not store:
        raise RuntimeError("stand-in google.colab: COLAB_STANDIN_DRIVE is not set")
    target = Path(mountpoint) / "MyDrive"
    if os.path.ismount(target) and not force_remount:
        print(f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, call "
              f"drive.mount(\"{mountpoint}\", force_remount=True).")
        return
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", store, str(target)], check=True)
    print(f"Mounted at {mountpoint}")
