"""Installing what a runtime lacks while keeping the runtime's own stack (Colab's torch above all).

Colab preinstalls most of what the project needs, at versions it pins together (torch and its CUDA build,
transformers, datasets with pyarrow, ipywidgets 7 for its front end). Only requirements that are missing or
at a version the project cannot use are installed, and pip resolves them with every package the runtime
already has held where it is (constraints written from the runtime's own `pip freeze`), so it picks the
versions of trl and friends that fit Colab's pins (trl 0.29: every trl 1.x needs datasets >= 4.7) instead of
upgrading datasets and pyarrow. torch is never installed or replaced.

The packages go into a folder on Drive keyed by the Python version and the runtime's package set, so the
next notebook (a new runtime) finds them instead of installing again; a new Colab image gets a new folder.
unsloth, on a GPU, is installed as Unsloth's own Colab notebooks do it: `--no-deps`, so that it cannot pull
another torch, with the light packages it needs beside it. pip's output is shown only when it fails.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VERSIONS = ["torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "unsloth",
            "unsloth_zoo", "tokenizers", "huggingface_hub", "pyarrow"]
NEVER = {"torch"}  # held even where the project would want another version: a reinstall pulls GBs
# Unsloth's Colab recipe: these two without their dependencies (which would replace torch), plus the light
# packages they import that Colab lacks (resolved like everything else, with Colab's packages held).
UNSLOTH_NO_DEPS = ["unsloth", "unsloth_zoo"]
UNSLOTH_DEPS = ["tyro", "msgspec", "cut_cross_entropy", "hf_transfer", "structlog", "typer", "einops"]
LOG = "install.log"


class InstallError(RuntimeError):
    """pip could not install what is missing; the message says what and what to do."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this one line instead of a traceback
        return [f"InstallError: {self}"]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str:
    """The normalised project name of a requirement line ("Foo_Bar[x]>=1; marker" -> "foo-bar")."""
    return normal(re.split(r"[<>=!~ \[;]", line.strip(), maxsplit=1)[0])


def requirements(path: Path) -> list[str]:
    """The requirement lines of a requirements file (comments and blanks dropped)."""
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def unmet(lines: list[str]) -> list[str]:
    """Requirements the running interpreter does not satisfy (missing, or at a version outside the range)."""
    from packaging.requirements import Requirement

    out = []
    for line in lines:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate():
            continue
        try:
            have = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            out.append(line)
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            out.append(line)
    return out


def runtime_packages(exclude: Path | None = None) -> dict[str, str]:
    """name -> version of what the interpreter has, leaving out the project's own package folder."""
    found = {}
    for dist in importlib.metadata.distributions():
        location = str(getattr(dist, "_path", ""))
        if exclude is not None and location.startswith(str(exclude)):
            continue
        if dist.metadata["Name"]:
            found[normal(dist.metadata["Name"])] = dist.version
    return found


def packages_dir(root: Path, unsloth: bool) -> Path:
    """The folder on Drive for this runtime: one per Python version, package set and request."""
    base = root / ".cache" / "python"
    have = runtime_packages(exclude=base)
    digest = hashlib.sha256(json.dumps(sorted(have.items())).encode())
    digest.update((root / "requirements.txt").read_bytes())
    digest.update(b"unsloth" if unsloth else b"")
    return base / f"py{sys.version_info.major}{sys.version_info.minor}-{digest.hexdigest()[:12]}"


def use(folder: Path) -> None:
    """Put an installed package folder first on the import path (once)."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()


def ensure(root: Path, unsloth: bool = True, say=print) -> dict:
    """Install what is missing into the Drive folder, or find it there; returns what happened. `say` prints a
    step's line (the setup cell's adds the time since it started)."""
    import torch

    gpu = torch.cuda.is_available()
    unsloth = unsloth and gpu
    folder = packages_dir(root, unsloth)
    if (folder / ".complete").exists():
        use(folder)
    listed = requirements(root / "requirements.txt")
    say(f"Packages: checking {len(listed) + (1 if unsloth else 0)} requirements against this runtime ...")
    wanted = unmet(listed)
    bad = [line for line in wanted if requirement_name(line) in NEVER]
    if bad:
        raise InstallError(f"this runtime's torch {torch.__version__} does not satisfy {', '.join(bad)}; the project "
                           "never replaces torch: use a runtime with a newer torch (Runtime > Change runtime type)")
    missing_unsloth = unsloth and unmet(["unsloth"])
    if not wanted and not missing_unsloth:
        found = (folder / ".complete").read_text().split() if (folder / ".complete").exists() else []
        say(f"Packages: all present{f' ({len(found)} installed earlier, on Drive)' if found else ''}")
        return {"installed": [], "packages_dir": str(folder)}
    started = time.time()
    say(f"Packages: {len(wanted) + bool(missing_unsloth)} missing or too old here; resolving and installing them onto "
        "Drive (once per Colab image: a few minutes) ...")
    plan = resolve(wanted + (UNSLOTH_DEPS if missing_unsloth else []))
    if missing_unsloth:
        plan += UNSLOTH_NO_DEPS
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    pip("install", "--no-deps", "--target", str(staging), *plan)
    if (folder / ".complete").exists():  # another notebook finished the same install meanwhile: use theirs
        shutil.rmtree(staging, ignore_errors=True)
    else:
        if folder.exists():  # an interrupted earlier attempt
            shutil.rmtree(folder)
        os.replace(staging, folder)
        (folder / ".complete").write_text("\n".join(plan) + "\n")
    with open(folder.parent / LOG, "a") as log:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} installed into {folder.name}: {' '.join(plan)}\n")
    use(folder)
    say(f"Packages: installed {len(plan)} that Colab lacks in {time.time() - started:.0f} s (kept on Drive for the "
        "next notebooks)")
    restart_note(plan)
    return {"installed": plan, "packages_dir": str(folder)}


def resolve(lines: list[str]) -> list[str]:
    """`name==version` for what pip would add to this runtime, with every installed package held where it is."""
    if not lines:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        constraints, report = Path(tmp) / "constraints.txt", Path(tmp) / "report.json"
        constraints.write_text(freeze_constraints(lines))
        pip("install", "--dry-run", "--quiet", "--report", str(report), "-c", str(constraints), *lines)
        items = json.loads(report.read_text())["install"]
    return [f"{item['metadata']['name']}=={item['metadata']['version']}" for item in items]


def freeze_constraints(wanted: list[str]) -> str:
    """The runtime's `pip freeze` as constraints, less the packages that must move (those in `wanted`)."""
    moving = {requirement_name(line) for line in wanted} - NEVER
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    keep = [line for line in freeze if "==" in line and "@" not in line and not line.startswith("-e")
            and normal(line.split("==")[0]) not in moving]
    return "\n".join(keep) + "\n"


def pip(*args: str) -> None:
    """Run pip quietly; on failure show its output and stop with one line."""
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"], capture_output=True,
                          text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise InstallError(f"pip {args[0]} failed ({last}); its output is above. Re-run this cell; if it fails "
                           "again, Runtime > Disconnect and delete runtime, then run all")


def restart_note(plan: list[str]) -> None:
    """Installed packages that were already imported in this kernel need a restart to take effect."""
    stale = [p.split("==")[0] for p in plan if normal(p.split("==")[0]).replace("-", "_") in sys.modules]
    if stale:
        print(f"Restart needed ({', '.join(stale)} was already imported): Runtime > Restart session, then run this "
              "cell again (nothing is installed twice)")


def versions() -> dict[str, str]:
    """The versions in use of the packages that decide how training behaves (recorded in every manifest)."""
    out = {"python": sys.version.split()[0]}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def versions_line() -> str:
    """One line; a name and its version never part (a no-break space joins them), the line wraps between pairs."""
    return "Versions: " + " · ".join(f"{k}\u00a0{v}" for k, v in versions().items())
