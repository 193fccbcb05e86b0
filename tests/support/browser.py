"""``mwm-tui serve`` as a subprocess and Debian's Chromium, headless, driven by Playwright.

Reading the screen: textual-serve draws the terminal with xterm.js on a canvas (WebGL or 2D),
so the page's DOM holds no text, and its Terminal object is a local of textual.js. A script
that runs before textual.js puts a setter for ``terminal`` on Object.prototype: the first
``this.terminal = new Terminal(...)`` lands there, the setter keeps the object in
``window.mwmTerminals`` and gives the instance its own property. The test then reads the
screen through xterm's public buffer API (``buffer.active.getLine(y).translateToString()``),
the cells xterm.js itself paints, row by row.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from playwright.sync_api import BrowserContext, Page, Playwright, Route, sync_playwright

from tests.support.sim import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1300, "height": 850}  # about 135 x 42 cells at textual-serve's 16 px

CAPTURE_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    window.mwmTerminals = (window.mwmTerminals || []).concat([value]);
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
  },
});
"""

READ_SCREEN = """() => {
  const terminal = (window.mwmTerminals || [])[0];
  if (!terminal) return null;
  const buffer = terminal.buffer.active;
  const rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, as the kernel lists children (Linux)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found.add(int(child))
                    pending.append(int(child))
    return found


def alive(pid: int) -> bool:
    """Running, and not a zombie left for its parent to reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def started_at(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/PID/stat``, field 22); None
    when there is no such process. With a pid, it names one process: pids are reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[19])


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (a test's own temporary path)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                    pids.append(int(entry.name))
    return pids


def mwm_tui_command(*arguments: str) -> list[str]:
    script = Path(sys.executable).with_name("mwm-tui")
    if script.is_file():
        return [str(script), *arguments]
    return [sys.executable, "-m", "mwm_tui.cli", *arguments]


class ServeProcess:
    """``mwm-tui serve`` on ``port``; output to files; stopped with Ctrl+C as a person would."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        *arguments: str,
        env: dict[str, str],
        prefix: Sequence[str] = (),
    ) -> None:
        """``prefix`` runs the server through another command (nsenter into a namespace)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = workdir / "serve.out"
        self.stderr_path = workdir / "serve.err"
        self._stdout: IO[bytes] = self.stdout_path.open("wb")
        self._stderr: IO[bytes] = self.stderr_path.open("wb")
        self.argv = [*prefix, *mwm_tui_command("serve", "--port", str(port), *arguments)]
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            env=env,
        )
        # Every process the server started, as last looked at: pid and start time.
        self.seen: dict[int, int] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def output(self) -> str:
        out = self.stdout_path.read_bytes().decode("utf-8", "replace")
        return out + self.stderr_path.read_bytes().decode("utf-8", "replace")

    def wait_listening(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while "the dashboard is at" not in self.output:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"mwm-tui serve exited ({self.proc.returncode}): {self.output}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"mwm-tui serve not listening in {timeout} s: {self.output}")
            time.sleep(0.05)

    def children(self) -> set[int]:
        """The processes below the server now; also remembered for the check at stop."""
        found = descendants(self.proc.pid)
        for pid in found - self.seen.keys():
            start = started_at(pid)
            if start is not None:
                self.seen[pid] = start
        return found

    def left_running(self) -> list[int]:
        """The processes the server started that still run (not others that took their pids)."""
        return [pid for pid, start in self.seen.items() if alive(pid) and started_at(pid) == start]

    def tabs(self) -> list[int]:
        """The dashboards the server runs now, one per open tab."""
        pids = []
        for pid in self.children():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"mwm_tui.cli" in argv and alive(pid):
                pids.append(pid)
        return sorted(pids)

    def wait_tabs(self, count: int, timeout: float) -> list[int]:
        """Wait until the server runs ``count`` dashboards; return their pids."""
        deadline = time.monotonic() + timeout
        while len(pids := self.tabs()) != count:
            assert time.monotonic() < deadline, f"{len(pids)} dashboards, not {count}: {pids}"
            time.sleep(0.05)
        return pids

    def stop(self) -> int:
        """Ctrl+C, SIGKILL (the whole group) if it hangs; the exit status."""
        try:
            self.children()
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        finally:
            for pid in self.left_running():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._stdout.close()
            self._stderr.close()


class Browser:
    """A headless Chromium of one test: its own empty profile, only loopback reachable."""

    def __init__(self, playwright: Playwright, profile: Path) -> None:
        profile.mkdir(parents=True)
        self.profile = profile
        self.context: BrowserContext = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        # Nothing may leave this machine: any other request is refused, and listed.
        self.refused: list[str] = []
        self.context.route("**/*", self._only_loopback)
        self.context.add_init_script(CAPTURE_TERMINAL)

    def _only_loopback(self, route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def open(self, url: str) -> Page:
        page = self.context.new_page()
        page.goto(url)
        return page

    @staticmethod
    def focus(page: Page) -> None:
        """Keys typed next go to the terminal (xterm.js reads them from its hidden textarea)."""
        page.locator(".xterm-helper-textarea").focus()

    def close(self) -> None:
        self.context.close()


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """A browser for the ``with`` block; closed, and checked gone, after it."""
    with chromiums(profile) as (browser,):
        yield browser


@contextlib.contextmanager
def chromiums(*profiles: Path) -> Iterator[list[Browser]]:
    """One browser per profile (people who share no cookie), all closed and checked gone."""
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} missing: run `bash scripts/bootstrap`")
    with sync_playwright() as playwright:
        browsers: list[Browser] = []
        try:
            for profile in profiles:
                browsers.append(Browser(playwright, profile))
            yield browsers
        finally:
            for browser in browsers:
                browser.close()
    deadline = time.monotonic() + 10
    for profile in profiles:
        while left := processes_mentioning(str(profile)):
            assert time.monotonic() < deadline, f"Chromium processes left: {left}"
            time.sleep(0.05)


def log_in(page: Page, name: str, password: str) -> None:
    """Fill in the login page the server sent ``page`` to, and send it."""
    page.wait_for_selector("input[name=password]", timeout=10_000)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def screen(page: Page) -> str:
    """The terminal's rows as text ('' until textual.js has made its terminal)."""
    text = page.evaluate(READ_SCREEN)
    return text if isinstance(text, str) else ""


def wait_screen(page: Page, predicate: Callable[[str], object], timeout: float, what: str) -> str:
    """Poll the page's screen until ``predicate`` holds; return that screen."""
    deadline = time.monotonic() + timeout
    while True:
        text = screen(page)
        if predicate(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{text}")
        time.sleep(0.1)
