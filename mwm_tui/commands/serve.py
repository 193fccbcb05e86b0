"""``mwm-tui serve``: the dashboard in a browser, one app process per tab (textual-serve).

Each tab's process is ``python -m mwm_tui.cli`` with no arguments: its settings, passwords
included, travel in its environment, which only its owner can read (unlike a command line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import shlex
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from mwm_tui.adapters.lifetime import children_of, has_ended
from mwm_tui.adapters.tls import TlsSetupError
from mwm_tui.commands.options import add_dashboard_options, settings_from_args
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.terminal import SERVER_PID
from mwm_tui.config import ConfigError, Settings, config_path, locale_is_utf8
from mwm_tui.domain.targets import TargetError

PROG = "mwm-tui serve"

_DESCRIPTION = """\
Serve the dashboard to web browsers: every tab that opens the address runs a dashboard of
its own, with the options given here (--demo, or brokers, TLS, ...)."""

_EPILOG = f"""\
--host, --port, --public and --url are also MWM_SERVE_HOST, MWM_SERVE_PORT, MWM_SERVE_PUBLIC,
MWM_SERVE_URL and serve_host, serve_port, serve_public, serve_url in {config_path()}.

security: there is no login. Whoever reaches the port sees the whole fleet and can send
orders and alerts. It listens on 127.0.0.1 (this machine only) unless told otherwise, and an
address other machines can reach needs --public. To use it from elsewhere, prefer an SSH tunnel:
  ssh -L 8000:127.0.0.1:8000 hq-host      then open http://127.0.0.1:8000 here
or a reverse proxy with TLS and authentication in front of it (give it --url https://...).
With brokers, every tab is a dashboard of the same team (one --data-dir, one outbox).

examples:
  mwm-tui serve --demo                   the demo fleet at http://127.0.0.1:8000
  mwm-tui serve --port 8080 --stomp stomp://hq@broker:61613 --mqtt mqtt://broker:1883
"""

# The page of a tab, ours: textual-serve's own fetches a web font from another site.
TEMPLATES = Path(__file__).with_name("templates")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class ServeError(Exception):
    """Why the server cannot start, in one line for the operator."""


def serve_parser() -> argparse.ArgumentParser:
    parse = TeachingParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    browser = parse.add_argument_group("browser")
    browser.add_argument(
        "--host",
        dest="serve_host",
        metavar="ADDRESS",
        help="listen on this address [default: 127.0.0.1, this machine only]",
    )
    browser.add_argument(
        "--port",
        dest="serve_port",
        type=int,
        metavar="PORT",
        help="listen on this port [default: 8000]",
    )
    browser.add_argument(
        "--public",
        dest="serve_public",
        action="store_const",
        const=True,
        help="allow a --host that other machines can reach (no login: see security below)",
    )
    browser.add_argument(
        "--url",
        dest="serve_url",
        metavar="URL",
        help="the address browsers use, when a reverse proxy serves this one "
        "[default: http://HOST:PORT]",
    )
    add_dashboard_options(parse)
    return parse


def browser_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` as a tab's app sees it: the browser's terminal always draws Unicode."""
    if locale_is_utf8(environ):
        return dict(environ)
    return {**environ, "LC_ALL": "C.UTF-8"}


def tab_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Every dashboard setting as its MWM_* variable; no config file, so nothing else counts."""
    tab = {name: value for name, value in environ.items() if not name.startswith("MWM_")}
    for setting in fields(Settings):
        value = getattr(settings, setting.name)
        if setting.name.startswith("serve_") or value is None:
            continue
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        tab[f"MWM_{setting.name.upper()}"] = text
    tab["MWM_CONFIG"] = os.devnull
    return tab


def tab_command() -> str:
    """The shell command textual-serve runs for each tab: the dashboard, without arguments.

    ``exec``: the dashboard is the server's own child, so it can end when the server does.
    """
    return "exec " + shlex.join([sys.executable, "-m", "mwm_tui.cli"])


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address.lower() in _LOOPBACK_NAMES


@dataclass(frozen=True)
class Listener:
    host: str
    port: int
    loopback: bool

    @property
    def url(self) -> str:
        shown = self.host
        if self.host in ("", "0.0.0.0", "::"):
            shown = socket.gethostname()
        elif ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}"


def check_listener(host: str, port: int, public: bool) -> Listener:
    """The address to listen on, refused unless it can be bound and is loopback or ``public``."""
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ServeError(f"--host {host!r}: no such address ({reason})") from None
    loopback = all(_is_loopback(str(address[4][0])) for address in found)
    if not loopback and not public:
        raise ServeError(
            f"--host {host} can be reached from other machines and has no login; "
            "add --public to do it anyway (see --help, security)"
        )
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise ServeError(_bind_error(host, port, error)) from None
    return Listener(host, port, loopback)


def _bind_error(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use (another program has it); pick one with --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    if error.errno == errno.EACCES:
        return f"port {port}: permission denied (ports below 1024 need root)"
    return f"cannot listen on {host} port {port}: {error.strerror or error}"


def exposure_warning(listener: Listener) -> str:
    return (
        f"{PROG}: warning: listening on {listener.host} port {listener.port}, "
        "which other machines can reach.\n"
        "  There is no login: anyone who reaches this port sees the fleet and can send orders"
        " and alerts.\n"
        f"  Prefer 127.0.0.1 with an SSH tunnel (ssh -L {listener.port}:127.0.0.1:{listener.port}"
        " this-host),\n"
        "  or a reverse proxy with TLS and authentication in front (and --url https://...)."
    )


def _hostname(netloc: str) -> str:
    return (urlsplit(f"//{netloc}").hostname or "").lower()


# How long a stopping server waits for its tabs' dashboards to end (they save the outbox first).
TAB_END_GRACE = 5.0


class DashboardServer(Server):
    """textual-serve's server that only answers pages of its own origin.

    A page from another site may open a WebSocket here (browsers let it): its Origin is
    refused. On loopback, a Host that is not a loopback name is refused (DNS rebinding).
    """

    def __init__(self, listener: Listener, public_url: str | None) -> None:
        super().__init__(
            tab_command(),
            host=listener.host,
            port=listener.port,
            title="mwm-tui",
            public_url=public_url or listener.url,
            templates_path=TEMPLATES,
        )
        self.listener = listener

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")

    async def on_shutdown(self, app: web.Application) -> None:
        """End every tab's dashboard while the loop still runs, so their pipes close cleanly.

        Left to end after the loop has closed, they leave asyncio tracebacks on the console.
        """
        tabs = children_of(os.getpid())
        for pid in tabs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + TAB_END_GRACE
        while not all(has_ended(pid) for pid in tabs) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # the tabs' pipes see their end of file

    async def on_startup(self, app: web.Application) -> None:
        print(f"{PROG}: the dashboard is at {self.public_url} (each browser tab runs its own)")
        print(f"{PROG}: Ctrl+C stops it and every tab's dashboard", flush=True)

    def allows(self, host_header: str, origin: str | None) -> bool:
        """Whether a request with this Host and Origin comes from the dashboard's own page."""
        public = urlsplit(self.public_url).netloc.lower()
        host_header = host_header.lower()
        loopback_host = _is_loopback(_hostname(host_header))
        if self.listener.loopback and host_header != public and not loopback_host:
            return False
        if origin is None:
            return True  # not a browser's page: a command-line client
        origin_netloc = urlsplit(origin).netloc.lower()
        if origin_netloc in (host_header, public):
            return True
        same_port = urlsplit(origin).port == self.listener.port
        return self.listener.loopback and same_port and _is_loopback(_hostname(origin_netloc))

    def _guard(self, request: web.Request) -> None:
        if not self.allows(request.host, request.headers.get("Origin")):
            raise web.HTTPForbidden(text="mwm-tui serve: refused: not this dashboard's page\n")

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        self._guard(request)
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._guard(request)
        return await super().handle_websocket(request)

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        self._guard(request)
        return await super().handle_download(request)


def serve_main(argv: Sequence[str]) -> int:
    environ = browser_environment(os.environ)
    args = serve_parser().parse_args(argv)
    try:
        settings = settings_from_args(args, environ)
        if settings.record:
            # Every tab is a dashboard of its own: they would all write the one record file.
            raise ServeError("--record is for one dashboard: run mwm-tui --record FILE instead")
        listener = check_listener(settings.serve_host, settings.serve_port, settings.serve_public)
    except (ConfigError, TargetError, TlsSetupError, ServeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if not listener.loopback:
        print(exposure_warning(listener), file=sys.stderr)
    # textual-serve hands each tab's process a copy of this process's environment.
    os.environ.clear()
    os.environ.update(tab_environment(settings, environ) | {SERVER_PID: str(os.getpid())})
    server = DashboardServer(listener, settings.serve_url)
    try:
        server.serve()
    except OSError as error:
        print(f"{PROG}: error: {_bind_error(listener.host, listener.port, error)}", file=sys.stderr)
        return 2
    return 0
