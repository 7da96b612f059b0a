"""`make colab-check`: the four notebooks on a stand-in of a fresh Colab runtime, twice, with evidence.

1. The image: Colab's versions of every package the notebooks import (`colab/image.py`), built once.
2. "GitHub": the working tree committed into a local bare repository, tagged with `lib.colab.REPO_PIN`;
   git's `url.insteadOf` sends the bootstrap's real `REPO_URL` there. A third, failing runtime points it at
   nothing and must stop with the bootstrap's one-line message.
3. "Drive": a folder that persists between runtimes; `google.colab.drive.mount` binds it at
   /content/drive/MyDrive inside each runtime.
4. "The hub": the tiny model served on loopback as `p4-check/tiny-llama` (`colab/hub.py`, HF_ENDPOINT), so
   the real loading code downloads it into the Hugging Face cache on Drive.
5. Run 1 (network on) must clone, install what Colab lacks, download the model and run all four notebooks.
   Run 2, a new runtime with no network at all, must find project, packages, model and data on Drive: no
   clone (a `git` wrapper logs every call), no pip (pip's own log, PIP_LOG, must stay empty), no request to
   the hub (its log), nothing downloaded (no network). Run 1 reports to TensorBoard, run 2 to W&B (offline).
6. Every HTML copy and the study report render in headless Chromium with no network request, no script
   error and no table wider than the page (`colab/browser.py`). No secret appears in any output.

Skips (exit 0) when ../shared/colab is absent. Needs root (mount and network namespaces).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from colab import browser, image  # noqa: E402
from colab.hub import Hub  # noqa: E402
from lib import colab  # noqa: E402
from lib.llm import tiny  # noqa: E402
from lib.runtime import runner  # noqa: E402

FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
CACHE = ROOT / ".colab-check"
# Fresh values each check (so that they appear in no source file), handed out as Colab Secrets.
SECRETS = {"HF_TOKEN": f"hf_{secrets.token_hex(17)}", "WANDB_API_KEY": secrets.token_hex(20),
           "GITHUB_TOKEN": f"ghp_{secrets.token_hex(18)}"}
HUB_MODEL = "p4-check/tiny-llama"  # the tiny model, served by the stand-in hub (colab/hub.py)
PARAMETERS = dict(model=HUB_MODEL, load_in_4bit=False, max_seq_length=128, max_steps=4, eval_steps=2, save_steps=2,
                  logging_steps=1, per_device_train_batch_size=2, gradient_accumulation_steps=1,
                  probe_max_new_tokens=32, authorship_words=20, bootstrap_samples=200,
                  digidan_samples=2)
REPORT_TO = {1: "tensorboard", 2: "wandb"}  # run 2 has no network: W&B must go offline into the run folder
GIT_WRAPPER = """#!/bin/sh
echo "git $*" >> "{log}"
exec {git} "$@"
"""


def snapshot_repository(work: Path) -> Path:
    """The working tree (tracked and new files, as `git ls-files` sees them) as a bare repo with the pin tag."""
    tree = work / "tree"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    git = ["git", "-c", "user.name=colab-check", "-c", "user.email=check@localhost", "-C", str(tree)]
    subprocess.run(git[:5] + ["init", "-q", str(tree)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "snapshot for colab-check"], check=True)
    subprocess.run(git + ["tag", colab.REPO_PIN], check=True)
    owner_repo = colab.REPO_URL.split("github.com/", 1)[1]
    bare = work / "github" / owner_repo
    subprocess.run(["git", "clone", "-q", "--bare", str(tree), str(bare)], check=True)
    return tree


def start_runtime(work: Path, name: str, python: Path, offline: bool, github: str, notebooks: Path,
                  parameters: dict, hub: str = "http://127.0.0.1:9") -> dict:
    """One runtime in its own namespaces; returns its timings, wall time and the evidence it left."""
    runtime = work / name
    runtime.mkdir()
    bin_dir = runtime / "bin"
    bin_dir.mkdir()
    git_log = runtime / "git.log"
    (bin_dir / "git").write_text(GIT_WRAPPER.format(log=git_log, git=shutil.which("git")))
    (bin_dir / "git").chmod(0o755)
    env = {"COLAB_RELEASE_TAG": "standin", "COLAB_STANDIN_DRIVE": str(work / "drive"),
           "PIP_LOG": str(runtime / "pip.log"), "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": f"url.{github}.insteadOf", "GIT_CONFIG_VALUE_0": "https://github.com/",
           "HF_ENDPOINT": hub, **{f"COLAB_STANDIN_SECRET_{k}": v for k, v in SECRETS.items()}}
    spec = {"names": runner.NOTEBOOKS, "runtime": str(runtime), "python": str(python / "bin" / "python"),
            "offline": offline, "env": env,
            "bin": str(bin_dir), "notebooks": str(notebooks), "parameters": {**PARAMETERS, **parameters}}
    (runtime / "spec.json").write_text(json.dumps(spec))
    flags = ["--mount", "--propagation", "private"] + (["--net"] if offline else [])
    started = time.time()
    done = subprocess.run(["unshare", *flags, "--", sys.executable, str(HERE / "runtime.py"),
                           str(runtime / "spec.json")], capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        sys.exit(f"colab-check: {name} did not start: {done.stderr.strip()[-1500:]}")
    result = json.loads((runtime / "result.json").read_text())
    return {"name": name, "wall": wall, "timings": result, "git": read_lines(git_log),
            "pip": read_lines(runtime / "pip.log"), "notebooks": runtime / "notebooks"}


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def outputs_text(nb_path: Path, cell: int = 0) -> str:
    nb = json.loads(nb_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    chunks = []
    for out in code[cell].get("outputs", []):
        chunks.append(out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"]))
        chunks += [out.get("ename", ""), out.get("evalue", "")]
    return "".join(chunks)


def cell_error(nb_path: Path) -> list[str]:
    """The traceback lines the first code cell's error shows the user (one line for an expected failure)."""
    nb = json.loads(nb_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for out in code[0].get("outputs", [])
            if out.get("output_type") == "error" for line in out.get("traceback", [])]


def main() -> int:
    if not FREEZE.exists():
        print(f"colab-check: skipped ({FREEZE.parent} is absent)")
        return 0
    if os.geteuid() != 0:
        sys.exit("colab-check: needs root (it runs each stand-in runtime in its own mount and network namespace)")
    Path("/content").mkdir(exist_ok=True)  # an empty mount point; each runtime binds its own folder there
    t0 = time.time()
    python = image.build_image(FREEZE, CACHE)
    print(f"[colab-check] image ready in {time.time() - t0:.0f} s: {python.name} (Python 3.11, torch 2.13.0 CPU; "
          f"Colab's versions of {len((python / '.complete').read_text().split())} packages)", flush=True)
    work = CACHE / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    for old in CACHE.glob("run-*"):
        shutil.rmtree(old, ignore_errors=True)
    (work / "drive").mkdir(parents=True)
    tree = snapshot_repository(work)
    failures: list[str] = []

    bad = start_runtime(work, "runtime-0-bad-url", python, False, f"file://{work}/nowhere/", tree / "notebooks",
                        {"run_name": "x"})
    error = cell_error(bad["notebooks"] / "01_data.ipynb")
    print(f"[colab-check] a clone that fails says: {' | '.join(error)}")
    if len(error) != 1 or not error[0].startswith("SetupError: Cannot clone"):
        failures.append(f"a failed clone should stop with one line; got: {error}")

    github = f"file://{work}/github/"
    runs = []
    model = tiny.ensure_tiny_model()
    for index, offline in ((1, False), (2, True)):
        with Hub(model, HUB_MODEL, work / f"hub-{index}.log") as hub:
            run = start_runtime(work, f"runtime-{index}", python, offline, github, tree / "notebooks",
                                {"run_name": f"colab-{index}", "report_to": REPORT_TO[index]}, hub)
        run["hub"] = read_lines(work / f"hub-{index}.log")
        runs.append(run)
        print(f"[colab-check] run {index} ({'no network' if offline else 'network'}): {run['wall']:.0f} s; "
              + ", ".join(f"{k} {v['seconds']} s" + (f" FAILED {v['error']}" if 'error' in v else "")
                          for k, v in run["timings"].items()), flush=True)
        for name, timing in run["timings"].items():
            if "error" in timing:
                failures.append(f"run {index}: {name} failed: {timing['error']} (see {run['notebooks'] / name}.ipynb)")
        if len(run["timings"]) < len(runner.NOTEBOOKS):
            failures.append(f"run {index}: only {len(run['timings'])} of 4 notebooks ran")
    first, second = runs
    clones = [line for line in first["git"] if " clone " in f" {line} "]
    print(f"[colab-check] evidence: run 1 git clone x{len(clones)}, pip log lines {len(first['pip'])}; "
          f"run 2 git clone x{sum(' clone ' in f' {x} ' for x in second['git'])}, pip log lines {len(second['pip'])}")
    if len(clones) != 1:
        failures.append(f"run 1 should clone once, cloned {len(clones)} times")
    if not first["pip"]:
        failures.append("run 1 should install what Colab lacks (pip's log is empty)")
    if any(" clone " in f" {line} " for line in second["git"]):
        failures.append("run 2 cloned again")
    if second["pip"]:
        failures.append(f"run 2 ran pip ({len(second['pip'])} log lines): it should find the packages on Drive")
    setup_two = "".join(outputs_text(second["notebooks"] / f"{n}.ipynb") for n in runner.NOTEBOOKS if
                        (second["notebooks"] / f"{n}.ipynb").exists())
    if "Packages: all present" not in setup_two:
        failures.append("run 2's setup did not report the packages found on Drive")
    install_log = read_lines(work / "drive" / "p4-notebooks" / ".cache" / "python" / "install.log")
    print(f"[colab-check] Drive install log: {len(install_log)} install(s)")
    if len(install_log) != 1:
        failures.append(f"expected one install on Drive in all, found {len(install_log)}")
    downloads = [line for line in first["hub"] if line.startswith("GET") and "/resolve/" in line]
    cached = list((work / "drive" / "p4-notebooks" / ".cache" / "huggingface" / "hub").glob("models--*"))
    print(f"[colab-check] hub: run 1 {len(first['hub'])} requests ({len(downloads)} file downloads) into the Drive "
          f"cache ({', '.join(p.name for p in cached) or 'nothing'}); run 2 {len(second['hub'])} requests")
    if not any("model.safetensors" in line for line in downloads) or not cached:
        failures.append("run 1 should download the model from the hub into the Hugging Face cache on Drive")
    if second["hub"]:
        failures.append(f"run 2 asked the hub {len(second['hub'])} times: it should load the model from Drive")

    outputs = work / "drive" / "p4-notebooks" / "outputs"
    tensorboard = sorted((outputs / "colab-1" / "pretraining" / "tensorboard").glob("events.out.tfevents.*"))
    wandb = sorted((outputs / "colab-2" / "pretraining" / "wandb").glob("offline-run-*"))
    print(f"[colab-check] trackers: run 1 TensorBoard event files {len(tensorboard)}, "
          f"run 2 W&B offline runs {len(wandb)}")
    if not tensorboard:
        failures.append("run 1 (report_to: tensorboard) wrote no TensorBoard events into the stage folder")
    if not wandb:
        failures.append("run 2 (report_to: wandb, no network) left no offline W&B run in the stage folder")

    html = []
    for run in runs:
        for nb in sorted(run["notebooks"].glob("*.ipynb")):
            html.append(runner.export_html(nb))
    reports = sorted(outputs.glob("*/probe/*.html"))
    problems = browser.check_pages([p for p in html if p] + reports)
    print(f"[colab-check] Chromium: {len(html) + len(reports)} pages, {len(problems)} problem(s)")
    failures += problems
    failures += leaks([work / "drive", *(r["notebooks"] for r in runs)])
    print(f"[colab-check] wall times: run 1 {first['wall']:.0f} s, run 2 {second['wall']:.0f} s; "
          f"whole check {time.time() - t0:.0f} s")
    for failure in failures:
        print(f"FAILED: {failure}")
    print(f"colab-check: {0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


def leaks(folders: list[Path]) -> list[str]:
    """Every file the runs wrote, searched for the secrets the stand-in Secrets handed out."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and ".cache/python" not in str(path):
                data = path.read_bytes()
                found += [f"secret {name} leaked into {path}" for name, value in SECRETS.items()
                          if value.encode() in data]
    return found


if __name__ == "__main__":
    sys.exit(main())
