"""``mwm-tui serve``'s doors: which requests come from the dashboard's own pages.

Another site's page may send a browser here (links, forms, WebSockets): its Origin is refused.
A name that another site rebinds to this machine's address (DNS rebinding) arrives with that
name as its Host: on loopback only loopback names pass, elsewhere only ``--url``'s host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from aiohttp import web

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Sent with every answer: no other site may frame the dashboard or guess its content types.
SAFE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def is_loopback(address: str) -> bool:
    """A loopback address, or a name that means this machine only."""
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address.lower() in LOOPBACK_NAMES


def _split(netloc: str) -> SplitResult | None:
    try:
        parts = urlsplit(f"//{netloc}")
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return None
    return parts


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of ``url``, ports filled in as browsers compare them."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


@dataclass(frozen=True)
class Doors:
    """What a request's Host and Origin must be for a server at ``public_url``.

    ``loopback``: it listens on loopback only, reached on ``port`` by this machine's names.
    """

    public_url: str
    port: int
    loopback: bool

    def allows(self, host_header: str, origin: str | None) -> bool:
        """Whether a request with this Host and Origin (None: not a browser's page) may pass."""
        host = _split(host_header.lower())
        public = _origin(self.public_url)
        if host is None or not host.hostname or public is None:
            return False
        if self.loopback:
            host_ok = is_loopback(host.hostname) or host.hostname == public[1]
        else:
            host_ok = host.hostname == public[1] and host.port in (None, public[2], self.port)
        if not host_ok:
            return False
        if origin is None:
            return True
        seen = _origin(origin)
        if seen is None:
            return False  # "null" (a sandboxed frame, a file) or nonsense
        if seen == public:
            return True
        if not self.loopback:
            return False
        return is_loopback(seen[1]) and seen[2] == self.port

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Refuse every request from elsewhere, before any handler; mark every answer."""
        if not self.allows(request.host, request.headers.get("Origin")):
            raise web.HTTPForbidden(
                text="mwm-tui serve: refused: not this dashboard's page\n", headers=SAFE_HEADERS
            )
        response = await handler(request)
        response.headers.update(SAFE_HEADERS)
        return response
