"""Check a built book as a reader sees it: every page in headless Chromium, served on localhost.

A page fails on a console error, a failed request, an image that did not load, an internal link
to a page or anchor that does not exist, or (on the results pages) a table without rows. A
screenshot of each results page is saved beside the build.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urldefrag, urljoin, urlparse

RESULTS_PAGES = ("book/run/0", "book/run/claims")
SKIP_DIRS = ("_static", "_sources", "_images", "_sphinx_design_static", "_mathjax_static")
# Flags that keep Chromium from reaching for the network it does not have (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("no Chromium found: apt-get install chromium")


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on an ephemeral localhost port for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a page closed while a file was still streaming: the browser's problem, not the book's


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def pages(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.html")):
        relative = path.relative_to(root).as_posix()
        if not relative.startswith(SKIP_DIRS) and relative not in ("search.html", "genindex.html"):
            found.append(relative)
    return found


def _anchor_exists(root: Path, page: str, fragment: str) -> bool:
    text = (root / page).read_text(errors="replace")
    return re.search(rf'id="{re.escape(fragment)}"', text) is not None


def _console_error(message: Any, found: list[str]) -> None:
    """Record a console error with the address it is about. Chromium's own request for /favicon.ico (made
    outside the page's network events, whatever icon the page declares) is not the book's doing."""
    if message.type != "error":
        return
    where = (message.location or {}).get("url", "")
    if where.endswith("/favicon.ico"):
        return
    found.append(f"console {message.type}: {message.text}" + (f" ({where})" if where else ""))


def check_book(root: str | Path, screenshots: str | Path | None = None) -> dict[str, list[str]]:
    """Open every page; return ``{page: [problem, ...]}`` for the pages with problems."""
    from playwright.sync_api import sync_playwright  # lazy: playwright is a heavy import, needed only here

    root = Path(root).resolve()
    shots = Path(screenshots) if screenshots else root.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    with serve(root) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for page_path in pages(root):
            found: list[str] = []
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg, found=found: _console_error(msg, found))
            page.on("pageerror", lambda exc, found=found: found.append(f"page error: {exc}"))
            page.on("requestfailed", lambda req, found=found: found.append(f"request failed: {req.url}"))
            page.on("response", lambda resp, found=found: found.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None)
            url = urljoin(base, page_path)
            page.goto(url, wait_until="load")
            page.wait_for_timeout(300)  # let MathJax and the theme's scripts run
            broken_images = page.evaluate(
                "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
            )
            found += [f"image did not load: {src}" for src in broken_images]
            # Alt text must describe the figure: myst-nb falls back to the image's file name.
            missing_alt = page.evaluate(
                "Array.from(document.querySelectorAll('main img')).filter(i => !i.alt || /\\.(png|svg|jpe?g)$/i.test(i.alt)).map(i => i.src)"
            )
            found += [f"image without alt text: {src}" for src in missing_alt]
            uncaptioned = page.evaluate(
                "Array.from(document.querySelectorAll('main img')).filter(i => !i.closest('figure')).map(i => i.src)"
            )
            found += [f"figure without a caption: {src}" for src in uncaptioned]
            for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                target, fragment = urldefrag(href)
                if not target.startswith(base):
                    continue  # external links are not followed: no network here
                relative = urlparse(target).path.lstrip("/") or "index.html"
                if relative.endswith("/"):
                    relative += "index.html"
                if not (root / relative).is_file():
                    found.append(f"broken link: {href}")
                elif fragment and relative.endswith(".html") and not _anchor_exists(root, relative, fragment):
                    found.append(f"broken anchor: {href}")
            # A table must fit the page's text column: one wider scrolls sideways, and its last columns go unread.
            too_wide = page.evaluate(
                "Array.from(document.querySelectorAll('main table')).map((t, i) => {"
                " const box = (t.closest('article') || t.closest('main')).getBoundingClientRect();"
                " return [i, Math.round(t.scrollWidth), Math.round(box.width)]; }).filter(([i, w, c]) => w > c + 2)"
            )
            found += [f"table {i} is wider than the page ({width} px in {column} px)" for i, width, column in too_wide]
            if page_path.startswith(RESULTS_PAGES):
                tables = page.evaluate(
                    "Array.from(document.querySelectorAll('main table')).map(t => t.querySelectorAll('tbody tr').length)"
                )
                if not tables:
                    found.append("results page without a table")
                found += [f"table {i} has no rows" for i, rows in enumerate(tables) if rows == 0]
                page.screenshot(path=str(shots / (page_path.replace("/", "_").removesuffix(".html") + ".png")), full_page=True)
            page.close()
            if found:
                problems[page_path] = found
        browser.close()
    return problems
