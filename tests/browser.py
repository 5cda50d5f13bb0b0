"""A headless Chromium driven over the DevTools protocol (CDP), for the tests that open the HTML
report as a reader would (imported as ``browser``; needs the Debian package ``chromium`` and the
``websocket-client`` package of the test extra).

    with Chromium() as page:
        page.open(path)
        value = page.evaluate("document.title")
        png = page.screenshot()
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

# Drives the report as a reader would: every category of the menu, each of its subcategories, and
# in each the "eye" (view) and "i" (caption) button of every result; returns what was shown.
READ_REPORT = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const navbar = () => document.querySelector('#app nav.transition-all');
  const link = text => Array.from(navbar().querySelectorAll('div.p-3 a')).find(a => a.innerText.trim() === text);
  const settle = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const home = async () => { navbar().querySelector('ol li a').click(); await settle(); };
  const open = async (category, sub) => {
    await home(); link(category).click(); await settle();
    if (sub) { link(sub).click(); await settle(); }
  };
  const content = tag => Array.from(document.querySelectorAll('#app ' + tag)).find(x => !x.closest('nav'));
  const text = document.querySelector('#app .prose').innerText;
  const verdictTop = Array.from(document.querySelectorAll('#app .prose h1'))
    .find(h => h.innerText.trim() === 'Verdict').getBoundingClientRect().top;
  const seen = [];
  const menu = Array.from(navbar().querySelectorAll('div.p-3 a')).map(a => a.innerText.trim());
  const categories = menu.slice(menu.indexOf('About') + 1);
  for (const category of categories) {
    await open(category, null);
    const subs = Array.from(navbar().querySelectorAll('div.p-3 a')).map(a => a.innerText.trim())
      .filter(t => t === 'Figures' || t === 'Tables');
    for (const sub of (subs.length ? subs : [null])) {
      await open(category, sub);
      const rows = () => navbar().querySelectorAll('table tbody tr');
      const items = [];
      for (let i = 0; i < rows().length; i++) {  // view each result: its image or page
        const row = rows()[i];
        const eye = row.querySelector('a[iconname=eye]');
        const item = {category, sub, name: row.querySelector('td').innerText.trim(), href: eye.getAttribute('href')};
        if (item.href !== '#') { item.kind = 'download'; items.push(item); continue; }  // a file to save
        eye.click(); await settle();
        const img = content('img');
        const frame = content('iframe');
        if (img) {
          for (let t = 0; t < 100 && !img.complete; t++) await sleep(50);
          item.kind = 'img'; item.naturalWidth = img.naturalWidth;
        } else if (frame) {
          item.kind = 'iframe'; item.src = frame.src;
        } else { item.kind = 'download'; }
        items.push(item);
      }
      for (let i = 0; i < items.length; i++) {  // then its caption ("i"), and back to the list
        rows()[i].querySelector('a[iconname=information-circle]').click(); await settle();
        items[i].caption = navbar().innerText;
        Array.from(navbar().querySelectorAll('ol li a')).find(a => a.innerText.trim() === (sub || category)).click();
        await settle();
      }
      seen.push(...items);
    }
  }
  await home();
  return {front: text, verdictTop, height: window.innerHeight, categories, seen};
})()"""


CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--window-size=1400,1000", "--remote-debugging-port=0")


def executable() -> str | None:
    """The Chromium on this machine, or None."""
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class Chromium:
    """One headless Chromium with one page (a context manager)."""

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        import websocket

        exe = executable()
        if exe is None:
            raise RuntimeError("no Chromium on this machine (apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="invnet-chromium-")
        self._proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=self.timeout,
                                               suppress_origin=True)
        self.call("Page.enable")
        self.call("Runtime.enable")
        return self

    def __exit__(self, *exc: Any) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result (events on the way are collected)."""
        ident = next(self._ids)
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def open(self, path: str | Path) -> None:
        """Load a local file and wait for its load event."""
        self._events.clear()
        self.call("Page.navigate", url=Path(path).resolve().as_uri())
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not finish loading in {self.timeout} s")
            self._events.append(json.loads(self._ws.recv()))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); a JS exception
        is raised as RuntimeError."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Exceptions thrown and console errors logged by the page so far."""
        out = []
        for event in self._events:
            if event.get("method") == "Runtime.exceptionThrown":
                out.append(str(event["params"]["exceptionDetails"].get("text")))
            elif event.get("method") == "Runtime.consoleAPICalled" and event["params"].get("type") == "error":
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in event["params"]["args"]))
        return out

    def screenshot(self) -> bytes:
        """The page as a PNG."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])


def read_report(path: str | Path, screenshot: str | Path | None = None) -> dict[str, Any]:
    """Open a Snakemake report in headless Chromium and read it as a person would
    (:data:`READ_REPORT`): the front page's text, where its verdict starts, and every result shown
    (category, subcategory, name, what its view showed, its caption); ``errors``: what the page
    threw or logged as errors. ``screenshot``: the first screen, as PNG."""
    with Chromium() as page:
        page.open(path)
        for _ in range(300):  # React renders after the load event
            if page.evaluate("!!document.querySelector('#app .prose')"):
                break
            time.sleep(0.1)
        if screenshot is not None:
            Path(screenshot).write_bytes(page.screenshot())
        shown = page.evaluate(READ_REPORT)
        shown["errors"] = page.console_errors()
    return shown


def main(argv: list[str] | None = None) -> int:
    """``python tests/browser.py results/report.html [--screenshot front.png]``: what a reader
    finds in a report (the lead's acceptance check on a full run)."""
    import argparse
    from collections import Counter

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("report")
    parser.add_argument("--screenshot")
    args = parser.parse_args(argv)
    shown = read_report(args.report, args.screenshot)
    kinds = Counter(item["kind"] for item in shown["seen"])
    broken = [item["name"] for item in shown["seen"] if item["kind"] == "img" and not item.get("naturalWidth")]
    print(f"{args.report}: {Path(args.report).stat().st_size / 1e6:.1f} MB; categories: {', '.join(shown['categories'])}")
    print(f"figures shown as images: {kinds['img']} ({len(broken)} broken{': ' + ', '.join(broken) if broken else ''}); "
          f"tables shown as pages: {kinds['iframe']}; downloads: {kinds['download']}")
    print(f"verdict heading at {shown['verdictTop']:.0f} px of a {shown['height']} px first screen; "
          f"front page starts: {shown['front'][:120]!r}")
    print(f"page errors: {shown['errors'] or 'none'}")
    return 1 if broken or shown["errors"] or not 0 <= shown["verdictTop"] < shown["height"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
