"""Running the notebooks headless with papermill, in order, as one batch (`make demo`, CI, GPU batches).

Each notebook gets the parameters it declares (its `parameters` cell), is executed into the run's
folder, and is also saved as HTML for collaborators. A failure stops the batch with one line naming
the notebook and the cell; the executed notebook (with the error in it) and its HTML are still saved.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..files import locks, storage
from ..settings import secret
from ..settings.config import KEYS

NOTEBOOKS = ["01_data", "02_pretrain", "03_instruct", "04_probe_study"]
NOTEBOOK_DIR = storage.PROJECT_ROOT / "notebooks"
KERNEL_ENV = {"HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "TOKENIZERS_PARALLELISM": "false"}  # readable outputs
SECRET_NAME = secret.SECRET_NAME
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]  # the kernel's start-up notices are not the run's news


class NotebookFailed(RuntimeError):
    """A notebook cell raised; the message names the notebook and the cell."""


def check_parameters(parameters: dict) -> None:
    """Secrets never travel as parameters (they would be written into the executed notebook)."""
    for name, value in parameters.items():
        if SECRET_NAME.search(name) or secret.looks_secret(value):
            raise ValueError(f"parameter '{name}': secrets are never notebook parameters; {secret.WHERE}")


def declared_parameters(name: str) -> dict:
    import papermill

    return papermill.inspect_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"))


def checked(parameters: dict, names: list[str]) -> dict[str, dict]:
    """Each notebook's declared parameters, once the names, the parameters and their values are known good."""
    unknown_names = [name for name in names if name not in NOTEBOOKS]
    if unknown_names:
        raise ValueError(f"no notebook {', '.join(unknown_names)} (the notebooks: {', '.join(NOTEBOOKS)})")
    check_parameters(parameters)
    declared = {name: declared_parameters(name) for name in names}
    known = set().union(*declared.values())
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ValueError(f"parameter(s) {', '.join(unknown)} are declared by none of {', '.join(names)}"
                         + (" (config keys: see config.yaml)" if any(u not in KEYS for u in unknown) else ""))
    return declared


def run_notebooks(parameters: dict, names: list[str] | None = None, out_dir: Path | None = None,
                  log_output: bool = False) -> Path:
    """Execute `names` (default all four) in order; return the folder with executed notebooks and HTML."""
    names = names or NOTEBOOKS
    declared = checked(parameters, names)
    run_name = parameters.get("run_name") or "main"
    out_dir = out_dir or storage.run_dir(run_name) / "notebooks"
    with storage.explained(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    # one batch per run at a time: a second would interleave its notebooks with this one's
    log = out_dir / LIBRARY_LOG  # the kernels' library warnings and notices (lib.colab.setup routes them there)
    environ = {**KERNEL_ENV, "P4_LIBRARY_LOG": str(log)}
    with locks.acquire(out_dir / ".lock", f"the notebooks of run '{run_name}'"), storage.scoped_environ(environ):
        for name in names:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(f"=== {name} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            execute(name, {k: v for k, v in parameters.items() if k in declared[name]}, out_dir, log_output)
    return out_dir


def execute(name: str, params: dict, out_dir: Path, log_output: bool) -> None:
    """One notebook into `out_dir` (and its HTML copy); a failing cell becomes one `NotebookFailed` line."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    target = out_dir / f"{name}.ipynb"
    started = time.time()
    print(f"[run] {name} ...", flush=True)
    try:
        papermill.execute_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"), str(target), parameters=params,
                                   cwd=str(NOTEBOOK_DIR), kernel_name="python3", progress_bar=False,
                                   log_output=log_output, extra_arguments=KERNEL_ARGUMENTS)
    except PapermillExecutionError as exc:
        export_html(target)
        raise NotebookFailed(f"{name}.ipynb failed in cell {exc.cell_index} (execution count "
                             f"{exc.exec_count}): {exc.ename}: {first_line(exc.evalue)}; see {target}") from None
    export_html(target)
    print(f"[run] {name} done in {time.time() - started:.0f} s -> {target}", flush=True)


def export_html(notebook: Path) -> Path | None:
    """A self-contained HTML copy next to the executed notebook, for collaborators without Jupyter.

    Worth sharing as it is: no script or style from the network (the chat box becomes a static note), the
    setup cell shows only its output, the parameters cells give way to the table of values in effect that
    follows them, and wide tables scroll inside the page.
    """
    if not notebook.exists():
        return None
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = for_sharing(nbformat.read(notebook, as_version=4))
    exporter = HTMLExporter(embed_images=True, exclude_anchor_links=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={SETUP_TAG}), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return storage.write_text(notebook.with_suffix(".html"), self_contained(body))


SETUP_TAG = "p4-setup"
LIBRARY_LOG = "library.log"
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p style='color:#555'><i>An interactive chat box stands here in Colab or Jupyter; a rendered copy "
               "cannot run the model. Open the notebook to talk to it.</i></p>")
# Wide tables and long output lines scroll inside their own box; words and numbers are never split (cells wrap at
# spaces only); images shrink to the page; on a phone the prompt column gives its width to the content.
SHARING_CSS = """<style>
.jp-OutputArea-output table, .jp-RenderedHTMLCommon table { display: block; max-width: 100%; overflow-x: auto; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { overflow-wrap: normal !important; word-break: normal !important; }
.jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: normal !important; word-break: normal !important;
  overflow-x: auto; max-width: 100%; }
.jp-RenderedHTMLCommon pre, .jp-InputArea pre { overflow-x: auto; max-width: 100%; }
.jp-OutputArea-output img, .jp-RenderedHTMLCommon img { max-width: 100%; height: auto; }
.jp-Cell, .jp-OutputArea-output, .jp-RenderedHTMLCommon { min-width: 0; max-width: 100%; }
@media (max-width: 600px) {
  .jp-InputPrompt, .jp-OutputPrompt { display: none; }
  .jp-Notebook { padding: 4px; }
  .jp-Cell { padding: 2px 0; }
}
</style>"""


def for_sharing(nb):
    """The notebook as collaborators should read it (the executed file itself is left as it ran)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    hidden = {"parameters", "injected-parameters"}
    nb.cells = [c for c in nb.cells if not hidden & set(c.get("metadata", {}).get("tags", []))]
    if code:  # the setup cell: only its few lines of output (project, packages, versions)
        code[0].metadata.setdefault("tags", []).append(SETUP_TAG)
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # the badge image lives on colab.research.google.com: a text link
            cell.source = BADGE.sub(r"[Open in Colab](\1)", cell.source)
        chat = "chat_box(" in cell.get("source", "")  # the chat box says what it is; a progress bar means nothing now
        outputs = [o for o in cell.get("outputs", []) if chat or WIDGET not in o.get("data", {})]
        if "outputs" in cell:
            cell.outputs = outputs
        for output in outputs:
            if WIDGET in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE, "text/plain": "(chat box)"}
    nb.metadata.pop("widgets", None)
    return nb


def self_contained(page: str) -> str:
    """Drop every script and stylesheet the page would fetch from the network (require.js, MathJax, mermaid,
    widget managers from CDNs) and what configures them; add the styles that keep wide tables inside the page."""
    page = re.sub(r"<script[^>]*\bsrc=[\"']https?:[^>]*>\s*</script>", "", page)
    page = re.sub(r"<link[^>]*\bhref=[\"']https?:[^>]*>", "", page)
    page = re.sub(r"<script type=\"text/x-mathjax-config\">.*?</script>", "", page, flags=re.S)
    page = re.sub(r"<script[^>]*>(?:(?!</script>).)*(?:MathJax|requirejs|require\.config|https?://)(?:(?!</script>).)*"
                  r"</script>", "", page, flags=re.S)  # mermaid's loader imports from a CDN when a diagram shows
    return page.replace("</head>", SHARING_CSS + "\n</head>", 1)


def first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""
