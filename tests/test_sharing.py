"""Rendered notebooks worth sharing: self-contained, setup and parameters out of the way, tables that fit.

The checker itself is tested here on pages whose faults are known; `make colab-check` runs it on every HTML
copy and the study report of its four-notebook runs.
"""

import os

import nbformat
import pytest

from colab import browser
from lib.runtime import runner
from lib.settings import config
from lib.view import display
from tests.conftest import ROOT

needs_chromium = pytest.mark.skipif(browser.chromium() is None and not os.environ.get("P4_REQUIRE_BROWSER"),
                                    reason="chromium not installed (CI installs it: .ci/run)")


def executed_like_papermill():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                                              "(https://colab.research.google.com/github/o/r/blob/v1/notebooks/x.ipynb)\n# Title"),
                nbformat.v4.new_code_cell("# 25 lines of setup", outputs=[nbformat.v4.new_output(
                    "stream", name="stdout", text="Versions: python 3.13 · torch 2.11\n")]),
                nbformat.v4.new_code_cell("model = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("model = 'tiny'", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("chat_box()", outputs=[nbformat.v4.new_output(
                    "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                                          "text/plain": "VBox()"})]),
                nbformat.v4.new_code_cell("save_model()", outputs=[nbformat.v4.new_output(
                    "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "def"},
                                          "text/plain": "Writing model shards:   0%|          | 0/1"})])]
    nb.metadata["widgets"] = {"state": {}}
    return nb


def test_a_shared_copy_hides_setup_and_parameters_and_replaces_the_chat_box(tmp_path):
    path = tmp_path / "x.ipynb"
    nbformat.write(executed_like_papermill(), path)
    page = runner.export_html(path).read_text()
    assert "25 lines of setup" not in page and "Versions: python 3.13" in page, "setup: output only"
    assert "model = None" not in page and "model = &#39;tiny&#39;" not in page and "model = 'tiny'" not in page
    assert page.count("chat box stands here") == 1 and "widget-view" not in page, "the chat box alone gets the note"
    assert "Writing model shards" not in page, "a progress bar means nothing in a copy: dropped"
    assert "colab-badge.svg" not in page and "Open in Colab" in page
    assert "<script src=\"http" not in page and "<link rel=\"stylesheet\" href=\"http" not in page
    assert browser.remote_loads(page) == [], "nothing in the page would load from the network"
    assert nbformat.read(path, as_version=4).cells[2].source == "model = None", "the executed notebook is untouched"


def test_parameters_show_the_values_in_effect_compactly(tmp_path):
    cfg = config.load_config(ROOT / "config.yaml", model="tiny", lora_r=8)
    namespace = {"config_file": "config.yaml", "model": "tiny", "lora_r": 8, "seed": None, "other": 1}
    markup = display.parameters(cfg, namespace).data
    assert "<b>tiny</b>" in markup and "<b>8</b>" in markup, "set for this run: bold"
    assert ">seed</td>" in markup and ">42</td>" in markup, "left at None: config.yaml's value"
    assert "other" not in markup and markup.count("<tr>") == 1, "three settings to a row"


def test_counts_stay_integers():
    frame = display.frame([{"document": "a", "removed": 3}, {"document": "b"}], fill=0)
    assert frame["removed"].tolist() == [3, 0] and frame["removed"].dtype.kind == "i"


PAGES = {
    "clean.html": "<html><body><table><tr><td>fine</td></tr></table></body></html>",
    "cdn.html": "<html><head><script src='https://cdn.example.org/x.js'></script></head><body>x</body></html>",
    "error.html": "<html><body><script>undefined_function();</script></body></html>",
    "lazy.html": "<html><body><script type='module'>if (false) { await import('https://cdn.example.org/m.mjs'); }"
                 "</script></body></html>",
    "wide.html": "<html><body><table><tr><td style='white-space:nowrap'>" + "wide " * 400 + "</td></tr></table></body></html>",
    "boxed.html": "<html><body><div style='overflow-x:auto'><table><tr><td style='white-space:nowrap'>"
                  + "wide " * 400 + "</td></tr></table></div></body></html>",
}


@pytest.mark.slow
@needs_chromium
def test_the_browser_check_catches_network_requests_script_errors_and_wide_tables(tmp_path):
    folder = tmp_path / "run" / "notebooks"
    folder.mkdir(parents=True)
    for name, page in PAGES.items():
        (folder / name).write_text(page)
    problems = browser.check_pages([folder / name for name in PAGES])
    by_page = {name: [p for p in problems if f"/{name}:" in p] for name in PAGES}
    assert by_page["clean.html"] == [] and by_page["boxed.html"] == [], "a scrolling box is fine"
    assert any("network request to https://cdn.example.org" in p for p in by_page["cdn.html"])
    assert any("script error" in p and "undefined_function" in p for p in by_page["error.html"])
    assert any("table wider than the page" in p for p in by_page["wide.html"])
    assert any("would load https://cdn.example.org/m.mjs" in p for p in by_page["lazy.html"]), "a CDN import never run"
