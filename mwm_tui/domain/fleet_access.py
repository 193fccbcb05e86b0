"""A locked-down fleet: one account per truck and one for HQ, each allowed only its own part.

A truck may publish its own position, motion and will and read its own order queue and alert
topic; HQ may read the whole fleet and write orders and alerts. Pure: the accounts, their
rights in the contract's own destinations (``ids``), the credentials file's format and the
password hash Mosquitto reads. The broker files are written by ``adapters/broker_configs.py``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from . import ids

DEFAULT_HQ_USER = "hq"
# What mosquitto_passwd 2.0 writes: PBKDF2-HMAC-SHA512, 101 rounds, a 12-byte salt.
MOSQUITTO_ITERATIONS = 101
MOSQUITTO_SALT_BYTES = 12
# Every password is this many random bytes, URL-safe base64 (no space, no ':').
PASSWORD_BYTES = 24


class AccessError(ValueError):
    """A device list or credentials file that cannot make a locked-down fleet, said in words."""


class Kind(StrEnum):
    TOPIC = "topic"
    QUEUE = "queue"


@dataclass(frozen=True, slots=True)
class StompDestination:
    """A STOMP destination as brokers name it inside: ``device.X.location`` on a topic."""

    kind: Kind
    name: str

    @classmethod
    def of(cls, destination: str) -> StompDestination:
        """``/topic/NAME`` or ``/queue/NAME`` as the contract writes it."""
        for kind in Kind:
            prefix = f"/{kind.value}/"
            if destination.startswith(prefix):
                return cls(kind, destination[len(prefix) :])
        raise ValueError(f"{destination!r} is neither a /topic/ nor a /queue/ destination")


@dataclass(frozen=True, slots=True)
class Rights:
    """What one account may do; MQTT topics may be filters (``+``), STOMP names wildcards."""

    mqtt_publish: tuple[str, ...]
    mqtt_subscribe: tuple[str, ...]
    stomp_send: tuple[StompDestination, ...]
    stomp_subscribe: tuple[StompDestination, ...]


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    is_hq: bool
    rights: Rights


def device_rights(device_id: str) -> Rights:
    """A truck: its own position, motion and will out; its own orders and alerts in."""
    return Rights(
        mqtt_publish=(ids.motion_topic(device_id), ids.WILL_TOPIC),
        mqtt_subscribe=(ids.alert_topic(device_id),),
        stomp_send=(StompDestination.of(ids.location_destination(device_id)),),
        stomp_subscribe=(StompDestination.of(ids.order_destination(device_id)),),
    )


# Every truck's alert topic and order queue: the contract's one-level wildcards in the id's
# place (the builders in ``ids`` refuse wildcards, as they must for a destination).
ALL_ALERTS = "/mwm/+/alert"
ALL_ORDERS = StompDestination(Kind.QUEUE, "device.*.text")


def hq_rights() -> Rights:
    """HQ: every truck's position, motion and will in; orders, alerts and its own will out."""
    return Rights(
        mqtt_publish=(ALL_ALERTS, ids.HQ_WILL_TOPIC),
        mqtt_subscribe=(ids.MOTION_SUBSCRIPTION, ids.WILL_TOPIC),
        stomp_send=(ALL_ORDERS,),
        stomp_subscribe=(StompDestination.of(ids.LOCATION_SUBSCRIPTION),),
    )


def account_problem(name: str) -> str | None:
    """Why ``name`` cannot be an account on every broker, or None when it can."""
    problem = ids.id_problem(name)
    if problem is not None:
        return problem
    if ":" in name:
        # Mosquitto's password file reads a user name up to the first ':'.
        return "it contains ':', which a Mosquitto password file cannot hold in a user name"
    return None


def fleet_accounts(device_ids: Iterable[str], hq_user: str = DEFAULT_HQ_USER) -> list[Account]:
    """HQ's account first, then one per truck; AccessError names a bad, repeated or clashing id."""
    problem = account_problem(hq_user)
    if problem is not None:
        raise AccessError(f"HQ user {hq_user!r} cannot be used: {problem}")
    accounts = [Account(hq_user, True, hq_rights())]
    seen = {hq_user}
    for device_id in device_ids:
        problem = account_problem(device_id)
        if problem is not None:
            raise AccessError(f"device id {device_id!r} cannot be used: {problem}")
        if device_id in seen:
            clash = "is HQ's user" if device_id == hq_user else "is listed twice"
            raise AccessError(f"device id {device_id!r} {clash}")
        seen.add(device_id)
        accounts.append(Account(device_id, False, device_rights(device_id)))
    if len(accounts) == 1:
        raise AccessError("the device list names no device")
    return accounts


def read_device_ids(text: str, source: str) -> list[str]:
    """Ids one a line; blank lines and lines starting with '#' are skipped (no id holds '#')."""
    found: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        device_id = line.strip()
        if not device_id or device_id.startswith("#"):
            continue
        problem = account_problem(device_id)
        if problem is not None:
            raise AccessError(f"{source} line {number}: {device_id!r} cannot be used: {problem}")
        found.append(device_id)
    return found


def format_credentials(passwords: Mapping[str, str]) -> str:
    """The credentials file: ``ID PASSWORD`` a line, in the order given."""
    return "".join(f"{name} {password}\n" for name, password in passwords.items())


def parse_credentials(text: str, source: str) -> dict[str, str]:
    """Read ``format_credentials``'s lines back; blank and '#' lines are skipped."""
    passwords: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise AccessError(f"{source} line {number}: expected 'ID PASSWORD'")
        name, password = fields
        if name in passwords:
            raise AccessError(f"{source} line {number}: {name!r} is listed twice")
        passwords[name] = password
    return passwords


def mosquitto_password_hash(
    password: str, salt: bytes, iterations: int = MOSQUITTO_ITERATIONS
) -> str:
    """The ``$7$`` line field mosquitto_passwd writes: PBKDF2-HMAC-SHA512 of ``password``."""
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    encoded_salt = base64.b64encode(salt).decode("ascii")
    return f"$7${iterations}${encoded_salt}${base64.b64encode(digest).decode('ascii')}"
