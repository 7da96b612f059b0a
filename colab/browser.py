"""Render pages in headless Chromium and report what a collaborator's browser would trip over.

A page fails when it makes any network request (everything must be inside the file: no CDN) or holds code
that would load from the network when it runs (a CDN import behind a condition), when a script throws or logs
an error, or when a table runs off the side of a 1024-pixel-wide window without a scrolling
box around it. Uses Debian's `chromium` over the DevTools protocol (the `websocket-client` package).
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


def check_pages(pages: list[Path]) -> list[str]:
    """Every problem of every page, each as one line naming the page."""
    if not pages:
        return []
    if chromium() is None:
        return ["chromium is not installed (apt-get install -y chromium)"]
    problems = []
    with Browser() as browser:
        for page in pages:
            problems += [f"{page.parent.parent.name}/{p}" for p in browser.problems(page)]
    return problems
