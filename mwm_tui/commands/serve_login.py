"""``mwm-tui serve --users``: the login page, the sessions it opens, and the brake on guessing.

A session is a random token in an ``HttpOnly``, ``SameSite=Strict`` cookie; what it stands for
(the person's name) stays in this process. Each wrong password makes the next try of that name,
and from that address, wait longer; every refusal is logged.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web

from mwm_tui.domain.passwords import DECOY, MAX_PASSWORD, ScryptHash

COOKIE = "mwm_session"
SESSION_IDLE = 12 * 3600.0
MAX_SESSIONS = 10_000
# The wait after the n-th wrong password in a row: 1, 2, 4, ... seconds, at most 60.
FIRST_DELAY = 1.0
MAX_DELAY = 60.0
# A name or address that has not failed for this long starts afresh.
FORGET_AFTER = 900.0
MAX_TRACKED = 10_000

log = logging.getLogger("mwm_tui.serve")


@dataclass
class Session:
    name: str
    last_seen: float


class Sessions:
    """Logged-in browsers, by the token in their cookie; idle ones expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open: OrderedDict[str, Session] = OrderedDict()

    def open(self, name: str) -> str:
        """A new session for ``name``; its token, for the cookie."""
        token = secrets.token_urlsafe(32)
        self._open[token] = Session(name, self._clock())
        while len(self._open) > MAX_SESSIONS:
            self._open.popitem(last=False)
        return token

    def name_of(self, token: str | None) -> str | None:
        """Whose session ``token`` is, or None (unknown or idle too long)."""
        session = self._open.get(token or "")
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > SESSION_IDLE:
            del self._open[token or ""]
            return None
        session.last_seen = now
        self._open.move_to_end(token or "")
        return session.name

    def close(self, token: str | None) -> None:
        self._open.pop(token or "", None)


class Brake:
    """Wrong passwords in a row, per name and per address, and how long the next must wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def failures(self, key: str) -> int:
        count, last = self._failures.get(key, (0, 0.0))
        return count if self._clock() - last < FORGET_AFTER else 0

    def failed(self, *keys: str) -> int:
        """Count a wrong password against ``keys``; the most failures in a row among them."""
        worst = 0
        for key in keys:
            count = self.failures(key) + 1
            self._failures[key] = (count, self._clock())
            self._failures.move_to_end(key)
            worst = max(worst, count)
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)
        return worst

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def lock(self, key: str) -> asyncio.Lock:
        """Tries of one key wait for each other: guessing in parallel is no faster."""
        if len(self._locks) > MAX_TRACKED:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        return self._locks.setdefault(key, asyncio.Lock())


def delay_after(failures: int) -> float:
    return min(FIRST_DELAY * 2 ** (failures - 1), MAX_DELAY) if failures > 0 else 0.0


class Login:
    """The login and logout pages of a server whose users are ``users``."""

    def __init__(self, users: Mapping[str, ScryptHash], *, secure_cookie: bool) -> None:
        self.users = users
        self.sessions = Sessions()
        self.brake = Brake()
        self.secure_cookie = secure_cookie

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/login", self.show),
            web.post("/login", self.submit),
            web.post("/logout", self.logout),
        ]

    def name_of(self, request: web.Request) -> str | None:
        """Who the request's session belongs to, or None."""
        return self.sessions.name_of(request.cookies.get(COOKIE))

    async def show(self, request: web.Request) -> web.StreamResponse:
        if self.name_of(request) is not None:
            raise web.HTTPSeeOther("/")
        return self._page(request, "", status=200)

    async def submit(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password = form.get("name"), form.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            return self._page(request, "Give a name and a password.", status=400)
        name, password = name.strip()[:64], password[:MAX_PASSWORD]
        address = request.remote or "unknown"
        by_name, by_address = f"name:{name}", f"address:{address}"
        async with self.brake.lock(by_address), self.brake.lock(by_name):
            stored = self.users.get(name)
            check = stored or DECOY
            loop = asyncio.get_running_loop()
            matches = await loop.run_in_executor(None, check.matches, password)
            if stored is not None and matches:
                self.brake.succeeded(by_name)
                self.brake.succeeded(by_address)
                log.info("%s logged in from %s", name, address)
                response = web.HTTPSeeOther("/")
                response.set_cookie(
                    COOKIE,
                    self.sessions.open(name),
                    httponly=True,
                    samesite="Strict",
                    secure=self.secure_cookie,
                    path="/",
                )
                raise response
            failures = self.brake.failed(by_name, by_address)
            log.warning("login refused: %r from %s (%d wrong in a row)", name, address, failures)
            await asyncio.sleep(delay_after(failures))
        return self._page(request, "Wrong name or password.", status=401)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.close(request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    def _page(self, request: web.Request, problem: str, *, status: int) -> web.Response:
        response = aiohttp_jinja2.render_template(
            "login.html", request, {"problem": problem}, status=status
        )
        response.headers["Cache-Control"] = "no-store"
        return response
