"""One stand-in Colab runtime: the four notebooks run top to bottom in a fresh runtime of the Colab image.

Started by `colab/check.py` inside its own mount namespace (and, for a run that must not download, its own
network namespace with only loopback), it gives the runtime what a Colab runtime has: an empty `/content`
(bound from a fresh folder, gone when the runtime ends), a fresh home folder, a kernel of the image's Python
that imports `google.colab` at start, COLAB_RELEASE_TAG, Secrets from the environment. The notebooks come
from the stand-in "GitHub" (a local bare repository that git's `insteadOf` puts behind github.com), as Colab
opens them from GitHub; papermill injects the tiny-model parameters a user would type into the parameters
cell. Every notebook runs in its own kernel: one Colab notebook, one runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

def prepare(spec: dict) -> None:
    """The runtime's own /content, home and kernel; the network down when the run must not download."""
    runtime = Path(spec["runtime"])
    content = runtime / "content"
    content.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(content), "/content"], check=True)
    if spec["offline"]:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    kernels = runtime / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [spec["python"], "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=['import google.colab']"],
        "display_name": "Python 3 (Colab stand-in)", "language": "python"}))
    home = runtime / "home"
    home.mkdir()
    os.environ.update(spec["env"])
    os.environ.update({"HOME": str(home), "JUPYTER_PATH": str(runtime / "jupyter"),
                       "PATH": f"{spec['bin']}:{os.environ['PATH']}"})
    os.chdir("/content")


def run_notebooks(spec: dict) -> dict:
    import papermill

    out = Path(spec["runtime"]) / "notebooks"
    out.mkdir()
    timings = {}
    for name in spec["names"]:
        source = Path(spec["notebooks"]) / f"{name}.ipynb"
        params = {k: v for k, v in spec["parameters"].items() if k in papermill.inspect_notebook(str(source))}
        started = time.time()
        try:
            papermill.execute_notebook(str(source), str(out / f"{name}.ipynb"), parameters=params, cwd="/content",
                                       kernel_name="colab", progress_bar=False)
        except Exception as exc:  # the executed notebook keeps the error; the check names it
            timings[name] = {"seconds": round(time.time() - started, 1), "error": f"{type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"}
            break
        timings[name] = {"seconds": round(time.time() - started, 1)}
    return timings


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    prepare(spec)
    result = run_notebooks(spec)
    Path(spec["runtime"], "result.json").write_text(json.dumps(result, indent=1))
