"""One warm, jailed Chromium per worker process, a fresh context per page.

Playwright's sync API is bound to the thread that started it and refuses to run under
a running asyncio loop, so each process drives its browser from one dedicated thread;
callers hand it pages and wait with a deadline. A page gets a new browser context
(fixed viewport, scale 1, offline, no downloads, no service workers, a frozen clock and
a seeded `Math.random`, so a page drawing the time or random data draws the same
thing for the response and the target), is loaded with
`set_content` (no navigation, no URL), read (`blocks.EXTRACT_JS`) and captured as a
full-page PNG with animations stopped, then its context is closed.

Every page call is time-limited. Past the limit, or when a page makes the browser
hang, the browser is killed whole (`Process.kill`: its cgroups, else its sandbox's
pid 1, which takes the pid namespace along) and the next page starts a fresh one. A renderer
crash costs only the page; a browser that dies under a page is replaced and the page
retried once, so only a page that kills two browsers in a row is blamed for it
(`browser_crashed`). The page's faults come back as `RenderFailed` (a verdict for a
response, an invalid target for a reference); the browser failing to start is
`VerifierError`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import select
import shutil
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.errors import VerifierError
from rewardgate.verifiers.web.blocks import EXTRACT_JS, MAX_BLOCKS, MAX_TEXT_CHARS
from rewardgate.verifiers.web.containment import (
    browser_backend,
    find_chromium,
    spawn_jailed,
    write_shim,
)
from rewardgate.verifiers.web.d2c_blocks import OFFSET, RECOLOUR_JS, TEXT_TAGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

    from rewardgate.sandbox.api import Process

__all__ = ["BrowserManager", "Capture", "RenderFailed", "browser_manager"]

# The captured page is cut to this size (a page can claim any height).
MAX_PAGE_WIDTH = 4096
MAX_PAGE_HEIGHT = 8192
LAUNCH_TIMEOUT_S = 30.0
# How long a killed browser's pending call may take to notice it is gone.
KILL_WAIT_S = 10.0
# --no-sandbox: the jail is the sandbox (see `containment`). A page's JavaScript heap is
# capped well under the browser's memory limit, so a runaway allocation crashes its
# renderer (a verdict) instead of the browser.
BROWSER_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--font-render-hinting=none",
    "--js-flags=--max-old-space-size=512",
)
# Every page sees the same instant (`Date`) and the same random numbers (`Math.random`,
# xorshift32 from a fixed seed). One small init script: Playwright's own clock would
# inject its whole fake-timer library into every page.
DETERMINISM_JS = """
(() => {
  let state = 0x2545f491;
  Math.random = () => {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const RealDate = Date;
  const fixed = RealDate.parse("2024-01-01T12:00:00Z");
  function FixedDate(...args) {
    if (!new.target) return new RealDate(fixed).toString();
    return args.length ? new RealDate(...args) : new RealDate(fixed);
  }
  FixedDate.prototype = RealDate.prototype;
  FixedDate.now = () => fixed;
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  globalThis.Date = FixedDate;
})();
"""
# Slack of the caller's deadline over the page's own time limit.
DEADLINE_SLACK_S = 2.0


@dataclass(frozen=True)
class Capture:
    """A rendered page: its PNG, the captured size in px and its raw text blocks.

    `recoloured`: with `design2code`, the two recoloured screenshots and the text tree
    Design2Code's block extraction reads (`d2c_blocks`).
    """

    png: bytes
    width: int
    height: int
    blocks: list[dict[str, Any]]
    truncated: bool
    recoloured: tuple[bytes, bytes, dict[str, Any]] | None = None


class RenderFailed(Exception):
    """The page could not be rendered; `reason` is a code for `details`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _BrowserDied(Exception):
    """The browser went away under a page (not killed by us)."""


def _timed_out(timeout_s: float) -> RenderFailed:
    return RenderFailed("render_timeout", f"the page did not load and draw within {timeout_s:g} s")


class BrowserManager:
    """A jailed Chromium kept warm for this process; see the module docstring."""

    def __init__(self, chromium: str, backend: str = "bwrap") -> None:
        self.chromium = chromium
        self.backend = backend  # the sandbox backend its browsers run on
        self.pid = os.getpid()
        self.launches = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rewardgate-web")
        self._folder = Path(tempfile.mkdtemp(prefix="rewardgate-web-"))
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self._folder / "browser.sock"))
        self._listener.listen(4)
        self._shim = write_shim(self._folder, self._folder / "browser.sock")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._process: Process | None = None
        self._jail_failure = ""
        self._kill_lock = threading.Lock()
        # Set by a caller whose deadline passed: the page, not the browser, is at fault.
        self._deadline_passed = threading.Event()

    # -- the caller's side -------------------------------------------------------------

    def render(
        self, html: str, viewport: tuple[int, int], timeout_s: float, design2code: bool = False
    ) -> Capture:
        """Load, read and capture `html`; raises `RenderFailed` or `VerifierError`.

        `design2code`: also capture the page recoloured as Design2Code recolours it.
        The browser is started first, if it is not running: its start (seconds on a
        loaded host) is not the page's time.
        """
        started = self._executor.submit(self._ensure_browser)
        try:
            started.result(timeout=LAUNCH_TIMEOUT_S + DEADLINE_SLACK_S)
        except FutureTimeout:
            self._kill()
            raise VerifierError(
                f"the jailed Chromium did not start within {LAUNCH_TIMEOUT_S:g} s"
            ) from None
        future = self._executor.submit(self._render, html, viewport, timeout_s, design2code)
        try:
            return future.result(timeout=timeout_s + DEADLINE_SLACK_S)
        except FutureTimeout:
            self._deadline_passed.set()
            self._kill()  # the page hung the browser: its pending call fails now
            with contextlib.suppress(Exception):
                future.result(timeout=KILL_WAIT_S)
            raise _timed_out(timeout_s) from None

    def browser_pids(self) -> set[int]:
        """The browser's processes now (tests check none outlives a replaced browser)."""
        process = self._process
        return process.pids() if process is not None else set()

    def close(self) -> None:
        """Kill the browser, stop Playwright and the thread; idempotent."""
        if os.getpid() != self.pid:
            return  # a forked child's copy: the parent's browser is not ours
        self._kill()
        try:
            future = self._executor.submit(self._stop)
        except RuntimeError:
            pass  # interpreter exit shut the thread down first; the driver dies with us
        else:
            with contextlib.suppress(Exception):
                future.result(timeout=KILL_WAIT_S)
        self._executor.shutdown(wait=False)
        self._listener.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    # -- the browser thread --------------------------------------------------------------

    def _render(
        self, html: str, viewport: tuple[int, int], timeout_s: float, design2code: bool = False
    ) -> Capture:
        self._deadline_passed.clear()
        try:
            return self._render_once(html, viewport, timeout_s, design2code)
        except _BrowserDied:
            if self._deadline_passed.is_set():
                raise _timed_out(timeout_s) from None
        try:
            return self._render_once(html, viewport, timeout_s, design2code)
        except _BrowserDied as exc:
            raise RenderFailed(
                "browser_crashed", f"the browser died rendering the page twice: {exc}"
            ) from None

    def _render_once(
        self, html: str, viewport: tuple[int, int], timeout_s: float, design2code: bool = False
    ) -> Capture:
        from playwright.sync_api import Error, TimeoutError

        browser = self._ensure_browser()
        try:
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                device_scale_factor=1,
                offline=True,
                accept_downloads=False,
                service_workers="block",
            )
        except Error as exc:
            self._forget_browser()
            raise _BrowserDied(_first_line(exc)) from None
        try:
            context.add_init_script(DETERMINISM_JS)
            page = context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.set_content(html, wait_until="load")
            data = page.evaluate(
                EXTRACT_JS,
                {
                    "maxBlocks": MAX_BLOCKS,
                    "maxChars": MAX_TEXT_CHARS,
                    "maxWidth": MAX_PAGE_WIDTH,
                    "maxHeight": MAX_PAGE_HEIGHT,
                },
            )
            url = page.url
            if url != "about:blank":
                raise RenderFailed("navigated", f"the page navigated away to {url[:100]!r}")
            width, height = int(data["width"]), int(data["height"])
            clip: Any = {"x": 0, "y": 0, "width": width, "height": height}

            def shot() -> bytes:
                return page.screenshot(
                    type="png", full_page=True, clip=clip, animations="disabled", caret="hide"
                )

            png = shot()
            recoloured = None
            if design2code:
                shots, tree = [], None
                for offset in (0, OFFSET):
                    found = page.evaluate(
                        RECOLOUR_JS,
                        {
                            "offset": offset,
                            "tags": list(TEXT_TAGS),
                            "tree": offset == 0,
                            "maxNodes": 4 * MAX_BLOCKS,
                            "maxChars": MAX_TEXT_CHARS,
                        },
                    )
                    tree = tree or found
                    shots.append(shot())
                recoloured = (shots[0], shots[1], tree or {"elements": [], "nodes": []})
            blocks, truncated = list(data["blocks"]), bool(data["truncated"])
            return Capture(png, width, height, blocks, truncated, recoloured)
        except TimeoutError:
            self._kill()
            raise _timed_out(timeout_s) from None
        except Error as exc:
            raise self._page_error(browser, exc) from None
        finally:
            with contextlib.suppress(Exception):
                context.close()

    def _page_error(self, browser: Browser, exc: Exception) -> Exception:
        """What a Playwright error under a page means: the browser died, or the page
        navigated away, or its renderer crashed."""
        message = _first_line(exc)
        if not browser.is_connected():
            self._forget_browser()
            return _BrowserDied(message)
        if "context was destroyed" in message or "navigat" in message.lower():
            return RenderFailed("navigated", f"the page navigated away: {message[:200]}")
        return RenderFailed("page_crashed", message[:300])

    def _ensure_browser(self) -> Browser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        self._forget_browser()
        from playwright.sync_api import Error, sync_playwright

        if self._playwright is None:
            self._playwright = sync_playwright().start()
        self._jail_failure = ""
        threading.Thread(target=self._jailer, name="rewardgate-web-jail", daemon=True).start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(self._shim),
                args=[*BROWSER_ARGS],
                timeout=LAUNCH_TIMEOUT_S * 1000,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except Error as exc:
            self._forget_browser()
            why = self._jail_failure or _first_line(exc)
            raise VerifierError(f"cannot start the jailed Chromium: {why}") from None
        self.launches += 1
        return self._browser

    def _jailer(self) -> None:
        """Serve one shim: spawn the jailed Chromium on its fds, then tell it the
        browser's exit status when it ends (or close the browser if the shim dies)."""
        self._listener.settimeout(LAUNCH_TIMEOUT_S)
        try:
            conn, _ = self._listener.accept()
        except TimeoutError:
            self._jail_failure = "Playwright never started the browser shim"
            return
        conn.setblocking(True)
        with conn:
            message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 5)
            try:
                if len(fds) != 5:
                    raise VerifierError("the browser shim sent no descriptors")
                argv = [self.chromium, *json.loads(message)]
                stdio = (fds[0], fds[1], fds[2])
                process = spawn_jailed(argv, fds[3:5], stdio, backend=self.backend)
            except Exception as exc:
                self._jail_failure = str(getattr(exc, "message", exc)) or type(exc).__name__
                with contextlib.suppress(OSError):
                    conn.sendall(b"125")
                return
            finally:
                for fd in fds:
                    os.close(fd)
            self._process = process
            while True:
                code = process.wait(0.2)
                if code is not None:
                    with contextlib.suppress(OSError):
                        conn.sendall(str(code).encode())
                    return
                if select.select([conn], [], [], 0)[0]:  # the shim is gone
                    process.close()

    def _forget_browser(self) -> None:
        """Drop a dead or killed browser: kill what is left of it, free its groups."""
        browser, self._browser = self._browser, None
        self._kill()
        if browser is not None:
            with contextlib.suppress(Exception):
                browser.close()
        process, self._process = self._process, None
        if process is not None:
            process.close()

    def _stop(self) -> None:
        self._forget_browser()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                self._playwright.stop()
            self._playwright = None

    # -- either thread -------------------------------------------------------------------

    def _kill(self) -> None:
        """SIGKILL every process of the browser (safe from any thread)."""
        with self._kill_lock:
            process = self._process
            if process is not None:
                process.kill()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_managers: dict[tuple[int, str, str], BrowserManager] = {}
_managers_lock = threading.Lock()


def browser_manager(chromium: str | None = None) -> BrowserManager:
    """This process's browser for `chromium` (the configured binary, else Debian's), in
    a sandbox of the backend `containment.use_backend` chose (bwrap unless told)."""
    if importlib.util.find_spec("playwright") is None:
        raise VerifierError('Playwright is not installed: pip install "rewardgate[render]"')
    found = find_chromium(chromium)
    if found is None:
        raise VerifierError(
            f"Chromium not found ({chromium or 'chromium'}): apt-get install chromium"
        )
    backend = browser_backend()
    if backend == "bwrap" and shutil.which("bwrap") is None:
        raise VerifierError("bubblewrap not found: apt-get install bubblewrap")
    key = (os.getpid(), found, backend)
    with _managers_lock:
        manager = _managers.get(key)
        if manager is None:
            for stale in [k for k in _managers if k[0] != key[0]]:
                del _managers[stale]  # inherited over fork; the parent owns them
            manager = _managers[key] = BrowserManager(found, backend)
            atexit.register(manager.close)
        return manager
