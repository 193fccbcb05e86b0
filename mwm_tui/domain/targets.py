"""Broker connection targets from URLs such as ``stomp://user@host:61613`` or ``mqtts://host``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit


class Protocol(StrEnum):
    STOMP = "stomp"
    MQTT = "mqtt"


_SCHEMES: dict[str, tuple[Protocol, bool, int]] = {
    "stomp": (Protocol.STOMP, False, 61613),
    "stomp+ssl": (Protocol.STOMP, True, 61612),
    "stomp+tls": (Protocol.STOMP, True, 61612),
    "mqtt": (Protocol.MQTT, False, 1883),
    "mqtts": (Protocol.MQTT, True, 8883),
    "mqtt+ssl": (Protocol.MQTT, True, 8883),
}


DEFAULT_VHOST = "/"


class TargetError(ValueError):
    """A broker URL that cannot be used, with a message meant for the operator."""


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How HQ checks a TLS broker, as mosquitto_sub's --cafile, --cert, --key, --insecure."""

    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    server_name: str | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    protocol: Protocol
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_options: TlsOptions = TlsOptions()
    # STOMP's CONNECT ``host`` header: RabbitMQ's virtual host; ActiveMQ ignores it.
    vhost: str = DEFAULT_VHOST

    def with_password(self, password: str | None) -> BrokerTarget:
        return replace(self, password=password)

    def with_tls_options(self, options: TlsOptions) -> BrokerTarget:
        return replace(self, tls_options=options)

    def with_vhost(self, vhost: str) -> BrokerTarget:
        """This target with STOMP virtual host ``vhost``; TargetError if no header can hold it."""
        if not vhost or not vhost.isprintable():
            raise TargetError(f"virtual host {vhost!r} is empty or holds a control character")
        return replace(self, vhost=vhost)

    def display(self) -> str:
        """URL for logs and the status bar; never shows the password."""
        scheme = self.protocol.value + ("s" if self.tls and self.protocol is Protocol.MQTT else "")
        if self.tls and self.protocol is Protocol.STOMP:
            scheme = "stomp+ssl"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        shown = f"{scheme}://{user}{host}:{self.port}"
        if self.tls and self.tls_options.insecure:
            return f"{shown} INSECURE: certificate not verified"
        return shown


def parse_target(url: str, expected: Protocol) -> BrokerTarget:
    """Parse a broker URL; passwords are refused here because URLs end up in argv and logs."""
    shown = _shown(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        # urlsplit quotes the port it could not read, which may be part of a password.
        said = "its port is not a number" if "cast to integer" in str(error) else str(error)
        raise TargetError(f"{shown!r} is not a broker URL: {said}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        known = ", ".join(f"{name}://" for name, spec in _SCHEMES.items() if spec[0] is expected)
        raise TargetError(f"{shown!r}: unknown scheme {scheme or '(none)'!r}; use {known}")
    protocol, tls, default_port = _SCHEMES[scheme]
    if protocol is not expected:
        raise TargetError(f"{shown!r} is a {protocol} URL where a {expected} URL is expected")
    in_query = _names_a_secret(parts.query) or _names_a_secret(parts.fragment)
    if parts.password is not None or ":" in _decoded(parts.username or "") or in_query:
        raise TargetError(
            f"{protocol} URL holds a password; put it in MWM_{protocol.upper()}_PASSWORD "
            "or the config file instead"
        )
    if not parts.hostname:
        raise TargetError(f"{shown!r} names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TargetError(f"{shown!r}: a broker URL has no path, query or fragment")
    username = unquote(parts.username) if parts.username else None
    return BrokerTarget(protocol, parts.hostname, port or default_port, tls, username)


def parse_targets(urls: str, expected: Protocol) -> list[BrokerTarget]:
    """Parse comma-separated broker URLs, in failover order; each one as ``parse_target``."""
    items = [item.strip() for item in urls.split(",")]
    if not any(items):
        raise TargetError(f"no {expected} broker URL given")
    if not all(items):
        raise TargetError(f"{_shown(urls)!r}: empty {expected} broker URL in the list")
    targets = [parse_target(item, expected) for item in items]
    seen: set[tuple[str, int]] = set()
    for target in targets:
        if (target.host, target.port) in seen:
            raise TargetError(f"{target.display()} is listed twice")
        seen.add((target.host, target.port))
    return targets


def _decoded(text: str) -> str:
    """``text`` percent-decoded until nothing changes, so ``%253A`` is a ``:`` too."""
    for _ in range(len(text)):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


# Query parameters that carry a password in one client's URLs or another's.
_SECRET_NAMES = frozenset({"password", "passcode", "passwd", "pass", "pwd"})


def _names_a_secret(query: str) -> bool:
    """True when ``query`` (or a fragment) has a password-like parameter, however encoded."""
    pairs = parse_qsl(_decoded(query), keep_blank_values=True)
    return any(_decoded(name).strip().lower() in _SECRET_NAMES for name, _ in pairs)


def _shown(url: str) -> str:
    """``url`` as an error message may show it: no password, and no query or fragment (they
    may hold one: ``?password=``); a ``?`` or ``#`` before an ``@`` hides the whole address."""
    url = _without_password(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return url
    if "@" in rest[cut:]:
        return f"{scheme}{sep}***"
    return f"{scheme}{sep}{rest[: cut + 1]}***"


def _without_password(url: str) -> str:
    """``url`` with any ``user:password@`` (``:`` encoded or not) reduced to ``user:***@``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    ends = [i for i in (rest.find(c) for c in "/?#") if i >= 0]
    end = min(ends, default=len(rest))
    userinfo, at, hostport = rest[:end].rpartition("@")
    if not at or ":" not in _decoded(userinfo):
        return url
    user = userinfo.partition(":")[0]
    cut = next((i for i in range(len(user) + 1) if ":" in _decoded(user[:i])), None)
    if cut is not None:
        user = user[: user.rfind("%", 0, cut)]
    return f"{scheme}://{user}:***@{hostport}{rest[end:]}"
