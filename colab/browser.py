"""Render pages in headless Chromium and report what a collaborator's browser would trip over.

A page fails when it makes any network request (everything must be inside the file: no CDN) or holds code
that would load from the network when it runs (a CDN import behind a condition), when a script throws or logs
an error, or when a table runs off the side of a 1024-pixel-wide window without a scrolling
box around it. `layout` looks at a page as a reader would, on a laptop (1280 px) and a phone (390 px): the
page must not scroll sideways, no word or number may be split over two lines, no box (a background or a
border) may be drawn over text that is not its own, no value may print as nan, None or inf, and no path of
the machine that made it may appear. Uses Debian's `chromium` over the DevTools protocol (the
`websocket-client` package).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

WIDTH, HEIGHT = 1024, 800
LOCAL = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
         "--disable-extensions", "--remote-allow-origins=*", f"--window-size={WIDTH},{HEIGHT}",
         "--remote-debugging-port=0"]
TABLES = """(() => {
  const W = document.documentElement.clientWidth, bad = [];
  const scrolls = el => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  for (const t of document.querySelectorAll('table')) {
    const r = t.getBoundingClientRect();
    if (!r.width || r.right <= W + 1) continue;
    let el = t, boxed = false;
    while (el && el !== document.documentElement) {
      if (scrolls(el) && el.getBoundingClientRect().right <= W + 1) { boxed = true; break; }
      el = el.parentElement;
    }
    if (!boxed) bad.push(Math.round(r.right) + 'px: ' + (t.innerText || '').replace(/\\s+/g, ' ').slice(0, 60));
  }
  return JSON.stringify(bad);
})()"""


LAYOUT = r"""(() => {
  const W = document.documentElement.clientWidth, H = window.innerHeight, out = {};
  const skip = el => el.closest('textarea, script, style, svg, .jp-InputArea, [hidden]');  // code as typed: not prose
  const shown = el => { const s = getComputedStyle(el); return s.display !== 'none' && s.visibility !== 'hidden'; };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.trim() && n.parentElement && !n.parentElement.closest('script, style')) texts.push(n);
  }
  // what a reader sees first, then everything a reader could open: folded parts are checked opened
  const seen = [];
  for (const n of texts) {
    if (!shown(n.parentElement) || n.parentElement.closest('details:not([open]) > :not(summary)')) continue;
    const r = n.parentElement.getBoundingClientRect();
    if (r.top >= H || r.bottom <= 0) continue;
    const range = document.createRange();
    for (const m of n.textContent.matchAll(/\S+/g)) {  // each word on the screen, not the rest of its paragraph
      range.setStart(n, m.index); range.setEnd(n, m.index + m[0].length);
      const box = range.getBoundingClientRect();
      if (box.height && box.top >= 0 && box.bottom <= H) seen.push(m[0]);
    }
  }
  out.first = seen.join(' ');
  out.height = document.documentElement.scrollHeight;  // as a reader first gets it, long tables folded
  for (const d of document.querySelectorAll('details')) d.open = true;
  out.scroll = document.documentElement.scrollWidth - W;
  // words or numbers split over two lines (a line break inside a run of letters and digits). A table cell may
  // always grow (its table scrolls), so a split there is a fault; elsewhere only a word that would fit its box is
  // (a run of characters wider than a phone's column must break, or the page would scroll sideways).
  const WORD = /[\p{L}\p{N}_]+(?:[.,'\u2019][\p{L}\p{N}_]+)*/gu;
  const block = el => { while (el && ['inline', 'contents'].includes(getComputedStyle(el).display)) el = el.parentElement;
    return el; };
  const wider = (node, start, end) => {
    const text = node.textContent, r = document.createRange();
    while (start > 0 && !/\s/.test(text[start - 1])) start--;
    while (end < text.length && !/\s/.test(text[end])) end++;
    r.setStart(node, start); r.setEnd(node, end);
    const width = Array.from(r.getClientRects()).reduce((sum, x) => sum + x.width, 0);
    const box = block(node.parentElement), style = getComputedStyle(box);
    return width > box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 1;
  };
  out.broken = [];
  const lines = [];
  for (const node of texts) {
    const el = node.parentElement;
    if (!el.getClientRects().length || !shown(el)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) if (r.width && r.height) lines.push({r, el, node});
    if (skip(el) || out.broken.length >= 20) continue;
    for (const m of node.textContent.matchAll(WORD)) {
      if (m[0].length < 2) continue;
      out.words = (out.words || 0) + 1;
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1 && (el.closest('td, th') || !wider(node, m.index, m.index + m[0].length))) {
        out.broken.push(m[0].slice(0, 40) + ' (in ' + el.tagName.toLowerCase() + ')');
        if (out.broken.length >= 20) break;
      }
    }
  }
  // boxes (a background or a border) drawn over text that is not theirs
  const boxes = [];
  for (const el of document.body.querySelectorAll('*')) {
    const s = getComputedStyle(el);
    const paint = (s.backgroundColor !== 'rgba(0, 0, 0, 0)' && s.backgroundColor !== 'transparent')
      || ['Top', 'Bottom'].some(side => parseFloat(s['border' + side + 'Width']) > 0 && s['border' + side + 'Style'] !== 'none');
    if (!paint || !shown(el)) continue;
    for (const r of el.getClientRects()) if (r.width && r.height) boxes.push({r, el});
  }
  out.overlaps = [];
  const BAND = 100, bands = new Map();
  for (const line of lines) {
    for (let k = Math.floor(line.r.top / BAND); k <= Math.floor(line.r.bottom / BAND); k++) {
      if (!bands.has(k)) bands.set(k, []);
      bands.get(k).push(line);
    }
  }
  for (const {r: b, el: box} of boxes) {
    const near = new Set();
    for (let k = Math.floor(b.top / BAND); k <= Math.floor(b.bottom / BAND); k++) for (const l of bands.get(k) || []) near.add(l);
    for (const {r: t, el, node} of near) {
      if (box.contains(node)) continue;
      const dx = Math.min(b.right, t.right) - Math.max(b.left, t.left);
      const dy = Math.min(b.bottom, t.bottom) - Math.max(b.top, t.top);
      if (dx > 2 && dy > 2) {
        const what = (box.className && typeof box.className === 'string' ? '.' + box.className.split(' ')[0] : box.tagName.toLowerCase());
        out.overlaps.push(what + ' covers "' + el.textContent.trim().slice(0, 40) + '" by ' + Math.round(dy) + ' px');
        break;
      }
    }
    if (out.overlaps.length >= 20) break;
  }
  // values that are not numbers, printed as if they were (folded parts included; code shown as code is not)
  const BAD = /^(?:nan|NaN|None|inf|-inf|Infinity)$/;
  const NEAR = /(?:[\[(=\u00b1+]\s*|\d,\s*)(?:nan|NaN|None|-?inf|Infinity)\b|\b(?:nan|NaN|None|inf|Infinity)(?=\s*[\])%]|\s*,\s*[\d\u2212+-])/;
  out.tokens = [];
  for (const node of texts) {
    const el = node.parentElement;
    if (el.closest('.jp-InputArea, .highlight, textarea')) continue;
    const text = node.textContent, whole = el.textContent.trim();
    if ((BAD.test(whole) && el.childElementCount === 0) || NEAR.test(text)) {
      const m = text.match(NEAR) || [whole];
      out.tokens.push(text.slice(Math.max(0, text.indexOf(m[0]) - 30), text.indexOf(m[0]) + m[0].length + 10).trim());
      if (out.tokens.length >= 20) break;
    }
  }
  out.opened_height = document.documentElement.scrollHeight;
  out.boxes = boxes.length;
  out.lines = lines.length;
  out.words = out.words || 0;
  return JSON.stringify(out);
})()"""
WIDTHS = (1280, 390)  # a laptop and a phone (390 x 844: a common phone's CSS pixels)


REMOTE = re.compile(r"""(?:\bsrc\s*=\s*|\bimport\s*\(\s*|@import\s+|url\(\s*)["']?(https?://[^"')\s>]+)""", re.I)


def remote_loads(source: str) -> list[str]:
    """Addresses the page would load from the network if the code that uses them ran (a link to click is fine)."""
    return sorted(set(REMOTE.findall(source)))


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __enter__(self):
        import websocket

        self.profile = tempfile.mkdtemp(prefix="p4-chromium-")
        self.proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        target = json.loads(urllib.request.urlopen(request, timeout=10).read())
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], suppress_origin=True, timeout=60)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Network", "Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, seconds: float = 30) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.ws.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def settle(self, seconds: float = 1.0) -> None:
        """Collect what the page does for a moment after loading (late scripts, late requests)."""
        deadline = time.time() + seconds
        self.ws.settimeout(0.2)
        while time.time() < deadline:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except Exception:
                continue
        self.ws.settimeout(60)

    def layout(self, page: Path, width: int, height: int = 800) -> dict:
        """The page at `width` CSS pixels (a phone's viewport below 600): sideways scroll, split words, boxes over
        text, non-numbers printed as numbers, the first screen's text and the page's height (see LAYOUT)."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        self.events = []
        self.call("Page.navigate", url=page.resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        self.settle(0.3)
        found = json.loads(self.call("Runtime.evaluate", expression=LAYOUT, returnByValue=True)["result"]["value"])
        self.call("Emulation.clearDeviceMetricsOverride")
        return found

    def problems(self, page: Path) -> list[str]:
        self.events = []
        self.call("Page.navigate", url=page.resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        self.settle()
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(LOCAL):
                found.append(f"network request to {params['request']['url'][:120]}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description", details.get("text"))
                found.append(f"script error: {text[:200]}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(f"console error: {str(params.get('args'))[:200]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"browser error: {params['entry'].get('text', '')[:200]}")
        source = page.read_text(errors="ignore")
        found += [f"would load {url[:120]} (in the page's source)" for url in remote_loads(source)]
        tables = self.call("Runtime.evaluate", expression=TABLES, returnByValue=True)["result"]["value"]
        found += [f"table wider than the page ({WIDTH} px window) at {t}" for t in json.loads(tables)]
        return [f"{page.name}: {p}" for p in dict.fromkeys(found)]


def check_pages(pages: list[Path], forbidden: list[str] | None = None) -> list[str]:
    """Every problem of every page, each as one line naming the page: what `problems` finds, and what
    `layout` finds at each of WIDTHS (`forbidden`: texts no page may hold, by default this machine's folders)."""
    if not pages:
        return []
    if chromium() is None:
        return ["chromium is not installed (apt-get install -y chromium)"]
    problems = []
    with Browser() as browser:
        for page in pages:
            problems += [f"{page.parent.parent.name}/{p}" for p in browser.problems(page)]
            for width in WIDTHS:
                found = browser.layout(page, width)
                problems += [f"{page.parent.parent.name}/{page.name} at {width} px: {p}"
                             for p in layout_problems(found, page, forbidden)]
    return problems


def machine_paths() -> list[str]:
    """Folders of this machine that no shared page may name: the project, its virtualenv, home, temp."""
    import sys
    import tempfile

    root = Path(__file__).resolve().parent.parent
    found = {str(root), str(Path(sys.prefix)), str(Path(sys.prefix).resolve()), tempfile.gettempdir() + "/",
             str(Path.home()) + "/", "site-packages"}
    return sorted(p for p in found if len(p) > 4)


def layout_problems(found: dict, page: Path, forbidden: list[str] | None = None) -> list[str]:
    """`layout`'s findings as lines (empty when the page holds together)."""
    out = []
    if found["scroll"] > 1:
        out.append(f"the page scrolls sideways by {found['scroll']} px")
    out += [f"a word or number split over two lines: {w}" for w in found["broken"]]
    out += [f"a box covers text: {o}" for o in found["overlaps"]]
    out += [f"not a number printed as one: \u201c{t}\u201d" for t in found["tokens"]]
    source = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", page.read_text(errors="ignore"))
    out += [f"names a path of the machine that made it: {p}" for p in (forbidden or machine_paths()) if p in source]
    return out


def layout(pages: list[Path], widths=WIDTHS) -> dict:
    """{(page name, width): what `Browser.layout` found} for every page at every width."""
    with Browser() as browser:
        return {(page.name, width): browser.layout(page, width) for page in pages for width in widths}
