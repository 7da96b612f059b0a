"""The pages people read, looked at as a person would: the study report, the questionnaire and every notebook's
HTML copy of a real four-notebook run, in headless Chromium at 1280 px (a laptop) and 390 px (a phone).

None may scroll sideways, split a word or a number over two lines, draw a box over text, print nan, None or inf
as a value, throw a script error, ask the network for anything, or name a folder of the machine that made it.
The checker itself is tested on pages whose faults are known. CI installs chromium and sets P4_REQUIRE_BROWSER,
so there these tests fail instead of skipping when it is missing.
"""

import json
import os
import re

import pytest

from colab import browser
from lib.runtime import runner
from lib.study import questionnaire

REQUIRED = bool(os.environ.get("P4_REQUIRE_BROWSER"))
needs_chromium = pytest.mark.skipif(browser.chromium() is None and not REQUIRED,
                                    reason="chromium not installed (apt-get install -y chromium; CI installs it)")


def shared_pages(run) -> list:
    return [run.run / "probe" / "report.html", run.run / "probe" / "questionnaire.html",
            *(run.notebooks / f"{name}.html" for name in runner.NOTEBOOKS)]


@pytest.mark.slow
@needs_chromium
def test_every_shared_page_holds_together_on_a_laptop_and_a_phone(four_notebooks):
    pages = shared_pages(four_notebooks)
    assert all(page.exists() for page in pages), [p.name for p in pages if not p.exists()]
    problems = browser.check_pages(pages, forbidden=[str(four_notebooks.root), *browser.machine_paths()])
    assert problems == [], "\n".join(problems)
    found = browser.layout(pages[:1])
    report = found[("report.html", 1280)]
    first = report["first"]
    assert first.startswith("Probe study: run full Findings"), first[:200]
    assert "Claim 1" in first and "Tiny model" in first, "the findings open the report, above the fold"
    print(f"\nreport.html, first screen at 1280 px: {first}\nat 390 px: {found[('report.html', 390)]['first']}")


@pytest.mark.slow
@needs_chromium
def test_the_report_opens_with_findings_a_forest_plot_and_contents(four_notebooks):
    page = (four_notebooks.run / "probe" / "report.html").read_text()
    order = [page.index(marker) for marker in ("id='findings'", "Forest plot of the", "<nav>", "id='primary'",
                                               "id='claim-1'", "id='checklist'", "id='provenance'")]
    assert order == sorted(order), "findings, forest plot, contents, then the sections"
    assert re.findall(r"<p><b>Claim \d \u00b7", page) and len(re.findall(r"<p><b>Claim \d \u00b7", page)) == 4
    assert all(f"href='#{key}'" in page for key in ("primary", "sizes", "claim-1", "claim-4", "checklist"))
    assert "<details><summary>" in page, "long tables fold away"
    assert "library.log" in page and (four_notebooks.notebooks / "library.log").exists(), "the log, linked"
    log = (four_notebooks.notebooks / "library.log").read_text()
    assert "=== 04_probe_study" in log


@pytest.mark.slow
@needs_chromium
def test_library_noise_stays_out_of_the_notebooks(four_notebooks):
    for name in runner.NOTEBOOKS:
        nb = json.loads((four_notebooks.notebooks / f"{name}.ipynb").read_text())
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("name") == "stderr"]
        text = "".join("".join(o["text"]) for o in errors)
        assert "Warning" not in text and "trust_remote_code" not in text and "site-packages" not in text, (name, text)


PAGES = {
    "fine.html": "<html><body><p>A sentence that wraps at its spaces on a phone, as sentences do.</p>"
                 "<table><tr><td>0.42 [0.31, 0.55]</td></tr></table></body></html>",
    "split.html": "<html><body><table><tr><th style='overflow-wrap:anywhere;max-width:40px'>lines_unwrapped</th>"
                  "<td style='word-break:break-all;max-width:20px'>3632</td></tr></table></body></html>",
    "nan.html": "<html><body><table><tr><td>None</td><td>+nan [nan, nan]</td></tr></table>"
                "<details><summary>folded</summary><p>p = inf</p></details></body></html>",
    "overlap.html": "<html><body><p style='width:9em'>A first line of text, and then the setting "
                    "<b style='background:#fee;padding:.6em'>learning_rate</b> whose box covers the lines above and "
                    "below it.</p></body></html>",
    "wide.html": "<html><body><div style='width:2000px'>too wide</div></body></html>",
    "path.html": "<html><body><p>saved to /home/someone/p4/outputs</p></body></html>",
}


@pytest.mark.slow
@needs_chromium
def test_the_layout_check_catches_split_words_overlaps_non_numbers_wide_pages_and_paths(tmp_path):
    folder = tmp_path / "run" / "notebooks"
    folder.mkdir(parents=True)
    for name, page in PAGES.items():
        (folder / name).write_text(page)
    problems = browser.check_pages([folder / name for name in PAGES], forbidden=["/home/someone"])
    by_page = {name: [p for p in problems if f"/{name} " in p or f"/{name}:" in p] for name in PAGES}
    assert by_page["fine.html"] == []
    assert any("split over two lines: lines_unwrapped" in p for p in by_page["split.html"])
    assert any("split over two lines: 3632" in p for p in by_page["split.html"])
    assert any("\u201cNone\u201d" in p for p in by_page["nan.html"]) and any("nan [nan" in p for p in by_page["nan.html"])
    assert any("p = inf" in p for p in by_page["nan.html"]), "folded text counts too"
    assert any("a box covers text" in p for p in by_page["overlap.html"])
    assert any("scrolls sideways" in p for p in by_page["wide.html"])
    assert any("/home/someone" in p for p in by_page["path.html"])


@pytest.mark.slow
@needs_chromium
def test_the_questionnaire_counts_confirms_and_survives_any_item_id(tmp_path):
    """An item id holding `<!--<script>`, `</script>`, `&` and U+2028 leaves the script whole; the page counts
    what was answered and names the file it downloaded."""
    ids = ["<!--<script>", "a</script><b>", "x&amp;y\u2028z", "plain"]
    items = [{"id": i, "question": f"Question {n}?", "real": f"Real answer {n}.",
              "machine": [f"Machine answer {n}.{k}" for k in range(2)]} for n, i in enumerate(ids)]
    page, key = questionnaire.build(items, seed=1, run_id="ids-1", purpose="Why we ask: <to test> & see.")
    assert "Why we ask: &lt;to test&gt; &amp; see." in page
    script = page[page.index("var CONFIG = "):]
    assert "<!--" not in script.split("\n", 1)[0] and "</script>" not in script.split("\n", 1)[0]
    driver = """<script>
(function () {
  var out = {};
  window.download = function (text, name) { out.name = name; out.sent = JSON.parse(text); };
  window.confirm = function () { return true; };
  out.before = document.getElementById("progress").textContent;
  document.querySelectorAll(".item")[0].querySelectorAll("input")[1].click();
  document.querySelectorAll(".item")[3].querySelectorAll("input")[0].click();
  out.after = document.getElementById("progress").textContent;
  save();
  out.done = document.getElementById("done").textContent;
  document.title = "RESULT " + JSON.stringify(out);
})();
</script></body>"""
    path = tmp_path / "questionnaire.html"
    path.write_text(page.replace("</body>", driver))
    with browser.Browser() as chrome:
        assert chrome.problems(path) == []
        title = chrome.call("Runtime.evaluate", expression="document.title", returnByValue=True)["result"]["value"]
    out = json.loads(title.removeprefix("RESULT "))
    assert out["before"] == "0 of 4 answered" and out["after"] == "2 of 4 answered"
    assert set(out["sent"]["answers"]) == {"<!--<script>", "plain"}, "the ids came through the script intact"
    assert out["name"] in out["done"] and "2 of 4 answered" in out["done"]


@pytest.mark.slow
@needs_chromium
def test_generated_text_in_a_table_stays_in_its_cell_on_a_phone(tmp_path):
    """A model's continuation may end a line in a tab or spaces, or hold a CR, a form feed or a NUL. Shown with
    pre-wrap, the tab hung past its cell over the next one at 390 px (the Colab stand-in's report did); the
    tables' own style folds it. The old style on the same row is the check's known fault."""
    from lib.study import report
    from lib.view import display

    odd = ("cons5onebody produstanding\ufffd ignor lastk advice i prot-like substituted\ufffdular\t\n faith n said "
           "why\ufffd\ufffdake y directeopleop contrais extra  \r\nnext\fpage\x00end")
    opening = ("The Narrative Self at the Bedside In my years on the wards I was asked, more often than I can now count, "
               "what a patient \"would have wanted\". The question usually came late at night, from a tired registrar "
               "or a frightened daughter, and it always seemed to assume that the answer lay somewhere in a drawer "
               "\u2014 a form,")
    rows = [{"arm": "base", "opening": opening, "continuation": odd,
             "hers": "a remark made at a birthday lunch, a tick in a box. I want to say at the outset that I think "
                     "this assumption is mistaken. It is not wicked, and it is not foolish. It is simply wrong about "
                     "what a person is."}]
    page = (f"<html><head><meta name='viewport' content='width=device-width, initial-scale=1'><style>{report.STYLE}"
            f"</style></head><body><details open><summary>Continuations</summary>{display.html_table(rows)}</details>"
            "</body></html>")
    (tmp_path / "now.html").write_text(page)
    (tmp_path / "before.html").write_text(page.replace("white-space:pre-line", "white-space:pre-wrap"))
    problems = browser.check_pages([tmp_path / "now.html", tmp_path / "before.html"])
    assert [p for p in problems if "now.html" in p] == []
    assert any("before.html at 390 px: a box covers text" in p for p in problems), problems
    cell = display.cell_text(odd)
    assert "\x00" not in cell and "\f" not in cell and "\r" not in cell and "next\npage" in cell
