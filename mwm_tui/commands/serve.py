"""``mwm-tui serve``: the dashboard in a browser, one app process per tab (textual-serve).

Each tab's process is ``python -m mwm_tui.cli`` with no arguments: its settings, passwords
included, travel in its environment, which only its owner can read (unlike a command line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
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

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from mwm_tui.adapters.lifetime import children_of, has_ended
from mwm_tui.adapters.tls import TlsSetupError
from mwm_tui.adapters.users_file import UsersFileError, load_users
from mwm_tui.commands.options import add_dashboard_options, settings_from_args
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.serve_doors import Doors, is_loopback
from mwm_tui.commands.serve_login import Login
from mwm_tui.commands.terminal import SEAT_NAME, SERVER_PID
from mwm_tui.config import ConfigError, Settings, config_path, locale_is_utf8
from mwm_tui.domain.targets import TargetError

PROG = "mwm-tui serve"

_DESCRIPTION = """\
Serve the dashboard to web browsers: every tab that opens the address is a seat, a dashboard
of its own with the options given here (--demo, or brokers, TLS, ...); with --users, people
log in first and each seat signs as its person."""

_EPILOG = f"""\
--host, --port, --public, --url, --users and --max-seats are also MWM_SERVE_HOST,
MWM_SERVE_PORT, MWM_SERVE_PUBLIC, MWM_SERVE_URL, MWM_SERVE_USERS, MWM_SERVE_MAX_SEATS and
serve_host, serve_port, ... in {config_path()}. An empty host means 127.0.0.1.

seats: every tab is a dashboard of its own, a seat of the team (with brokers: one --data-dir,
one outbox), up to --max-seats at once; the tab past it is told so and runs nothing. Closing
a tab frees its seat.

login: with --users FILE a browser logs in before any dashboard runs, and each seat sends
orders, claims and notes under its person's name. Add people with
  mwm-tui users add NAME --users FILE         (mwm-tui users --help)
Without --users there is no login: the seats are the account running serve, and it listens on
this machine only.

security: an address other machines can reach needs --public, --users and --url (the address
browsers use); every request must then name --url's host (Host and Origin), or it is refused.
Passwords travel as the browser sends them: put a reverse proxy with TLS in front
(--url https://...), or reach 127.0.0.1 through an SSH tunnel:
  ssh -L 8000:127.0.0.1:8000 hq-host          then open http://127.0.0.1:8000 here

examples:
  mwm-tui serve --demo                   the demo fleet at http://127.0.0.1:8000
  mwm-tui serve --port 8080 --stomp stomp://hq@broker:61613 --mqtt mqtt://broker:1883
  mwm-tui serve --users ~/.config/mwm-tui/users --host 10.0.0.5 --public \\
      --url http://10.0.0.5:8000 --stomp stomp://hq@broker:61613 --mqtt mqtt://broker:1883
"""

# The page of a tab, ours: textual-serve's own fetches a web font from another site.
TEMPLATES = Path(__file__).with_name("templates")


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
        help="allow a --host that other machines can reach (with --users and --url: see "
        "security below)",
    )
    browser.add_argument(
        "--url",
        dest="serve_url",
        metavar="URL",
        help="the address browsers use (a reverse proxy's https://... or this host's); "
        "requests naming another host are refused [default: http://HOST:PORT]",
    )
    browser.add_argument(
        "--users",
        dest="serve_users",
        metavar="FILE",
        help="log browsers in as the people of FILE (mwm-tui users add) [default: no login, "
        "the seats are the account running serve]",
    )
    browser.add_argument(
        "--max-seats",
        dest="serve_max_seats",
        type=int,
        metavar="N",
        help="dashboards (browser tabs) at most at once [default: 8]",
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


def tab_command(seat: str | None = None) -> str:
    """The shell command textual-serve runs for a tab: the dashboard, without arguments.

    ``exec``: the dashboard is the server's own child, so it can end when the server does,
    and knows its server (its parent) named its seat.
    """
    command = "exec " + shlex.join([sys.executable, "-m", "mwm_tui.cli"])
    if seat is None:
        return command
    return f"{SEAT_NAME}={shlex.quote(seat)} {command}"


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
    loopback = all(is_loopback(str(address[4][0])) for address in found)
    if not loopback and not public:
        raise ServeError(
            f"--host {host} can be reached from other machines; "
            "add --public, --users and --url to do it anyway (see --help, security)"
        )
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise ServeError(_bind_error(host, port, error)) from None
    return Listener(host, port, loopback)


def check_doors(listener: Listener, url: str | None, users: str | None) -> None:
    """Refuse a --url browsers could not use, and a public address without login or --url."""
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServeError(f"--url {url}: give the address as http://HOST[:PORT] or https://...")
    if listener.loopback:
        return
    if not users:
        raise ServeError(
            f"--host {listener.host} can be reached from other machines: it needs a login, "
            "--users FILE (mwm-tui users add NAME --users FILE)"
        )
    if url is None:
        raise ServeError(
            f"--host {listener.host} can be reached from other machines: give --url, the "
            "address browsers use (requests naming any other host are refused)"
        )


def load_login(settings: Settings) -> Login | None:
    """The login of ``--users``, or None without it; UsersFileError on a bad file."""
    if not settings.serve_users:
        return None
    users = load_users(Path(settings.serve_users).expanduser())
    secure = (settings.serve_url or "").lower().startswith("https:")
    return Login(users, secure_cookie=secure)


def _bind_error(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use (another program has it); pick one with --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    if error.errno == errno.EACCES:
        return f"port {port}: permission denied (ports below 1024 need root)"
    return f"cannot listen on {host} port {port}: {error.strerror or error}"


def exposure_warning(listener: Listener, url: str) -> str:
    return (
        f"{PROG}: warning: listening on {listener.host} port {listener.port}, "
        "which other machines can reach, for browsers at " + url + ".\n"
        "  Whoever logs in sees the fleet and can send orders and alerts. Without TLS the\n"
        "  passwords and the session cookie cross the network readable: prefer a reverse proxy\n"
        "  with TLS (--url https://...) or 127.0.0.1 with an SSH tunnel."
    )


# How long a stopping server waits for its tabs' dashboards to end (they save the outbox first).
TAB_END_GRACE = 5.0
# The largest request body: the login form.
MAX_BODY = 16 * 1024


class DashboardServer(Server):
    """textual-serve's server with doors (:mod:`serve_doors`), a login and a number of seats.

    Each WebSocket is a seat: a dashboard process of its own, named after the person its
    session logged in (or, without a login, the account running the server).
    """

    def __init__(
        self,
        listener: Listener,
        public_url: str | None,
        *,
        login: Login | None = None,
        max_seats: int = Settings.serve_max_seats,
    ) -> None:
        super().__init__(
            tab_command(),
            host=listener.host,
            port=listener.port,
            title="mwm-tui",
            public_url=public_url or listener.url,
            templates_path=TEMPLATES,
        )
        self.listener = listener
        self.doors = Doors(self.public_url, listener.port, listener.loopback)
        self.login = login
        self.max_seats = max_seats
        self.seated = 0

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format=f"{PROG}: %(message)s")
        logging.getLogger("mwm_tui.serve").setLevel(logging.INFO)

    async def make_app(self) -> web.Application:
        """The web application: the dashboard's page, its socket, static files, the login."""
        app = web.Application(middlewares=[self.doors.middleware], client_max_size=MAX_BODY)
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        if self.login is not None:
            app.add_routes(self.login.routes())
        app.on_shutdown.append(self.on_shutdown)
        return app

    def serve(self, debug: bool = False) -> None:
        """Serve until Ctrl+C or SIGTERM."""
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        loop.add_signal_handler(signal.SIGINT, self.request_exit)
        loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        web.run_app(
            self.make_app(),
            host=self.listener.host,
            port=self.listener.port,
            handle_signals=False,
            loop=loop,
            print=self.say_listening,
        )

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

    def say_listening(self, _aiohttp_banner: str) -> None:
        """Called by aiohttp once the socket listens, not before: whoever waits on these lines
        (a script, a test) can connect as soon as they are printed."""
        login = "log in as a person of --users" if self.login else "no login"
        print(f"{PROG}: the dashboard is at {self.public_url} (each browser tab runs its own)")
        print(f"{PROG}: {self.max_seats} seats at most, {login}")
        print(f"{PROG}: Ctrl+C stops it and every tab's dashboard", flush=True)

    def seat_of(self, request: web.Request) -> str | None:
        """The person whose session the request carries; HTTPUnauthorized without one."""
        if self.login is None:
            return None
        name = self.login.name_of(request)
        if name is None:
            raise web.HTTPUnauthorized(text=f"{PROG}: log in first, at /login\n")
        return name

    def seats_full(self, request: web.Request) -> web.Response | None:
        """The page that says every seat is taken, or None while one is free."""
        if self.seated < self.max_seats:
            return None
        return aiohttp_jinja2.render_template(
            "seats_full.html", request, {"max_seats": self.max_seats}, status=503
        )

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self.login is not None and self.login.name_of(request) is None:
            raise web.HTTPSeeOther("/login")
        full = self.seats_full(request)
        if full is not None:
            return full
        response = await super().handle_index(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        self.seat_of(request)
        return await super().handle_download(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One seat: a dashboard process for as long as the tab's socket stays open."""
        seat = self.seat_of(request)
        if self.seated >= self.max_seats:
            raise web.HTTPServiceUnavailable(text=f"{PROG}: all {self.max_seats} seats are taken\n")
        self.seated += 1
        try:
            return await self._run_seat(request, seat)
        finally:
            self.seated -= 1

    async def _run_seat(self, request: web.Request, seat: str | None) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)

        async def close() -> None:
            await websocket.close()

        service = AppService(
            tab_command(seat),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.download_manager,
        )
        try:
            await service.start(width, height)
            await relay(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            logging.getLogger("mwm_tui.serve").exception("a seat's dashboard failed")
        finally:
            await service.stop()
        return websocket


async def relay(websocket: web.WebSocketResponse, service: AppService) -> None:
    """Hand the tab's keys, size and focus to its dashboard until the tab goes."""
    async for message in websocket:
        if message.type != WSMsgType.TEXT:
            continue
        envelope = message.json()
        if not isinstance(envelope, list) or not envelope:
            continue
        kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
        if kind == "stdin" and isinstance(data, str):
            await service.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            width, height = data.get("width"), data.get("height")
            if isinstance(width, int) and isinstance(height, int):
                await service.set_terminal_size(width, height)
        elif kind == "ping":
            await websocket.send_json(["pong", data])
        elif kind == "blur":
            await service.blur()
        elif kind == "focus":
            await service.focus()


def serve_main(argv: Sequence[str]) -> int:
    environ = browser_environment(os.environ)
    args = serve_parser().parse_args(argv)
    try:
        settings = settings_from_args(args, environ)
        if settings.record:
            # Every tab is a dashboard of its own: they would all write the one record file.
            raise ServeError("--record is for one dashboard: run mwm-tui --record FILE instead")
        listener = check_listener(settings.serve_host, settings.serve_port, settings.serve_public)
        check_doors(listener, settings.serve_url, settings.serve_users)
        login = load_login(settings)
    except (ConfigError, TargetError, TlsSetupError, ServeError, UsersFileError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if not listener.loopback:
        print(exposure_warning(listener, settings.serve_url or listener.url), file=sys.stderr)
    # textual-serve hands each tab's process a copy of this process's environment.
    os.environ.clear()
    os.environ.update(tab_environment(settings, environ) | {SERVER_PID: str(os.getpid())})
    server = DashboardServer(
        listener, settings.serve_url, login=login, max_seats=settings.serve_max_seats
    )
    try:
        server.serve()
    except OSError as error:
        print(f"{PROG}: error: {_bind_error(listener.host, listener.port, error)}", file=sys.stderr)
        return 2
    return 0
