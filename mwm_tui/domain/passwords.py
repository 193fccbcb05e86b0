"""Passwords of ``mwm-tui serve``'s users, kept as scrypt hashes (``hashlib.scrypt``).

A stored hash reads ``scrypt$N$r$p$SALT$KEY`` (salt and key in unpadded URL-safe base64):
the cost travels with it, so raising the cost later leaves older lines valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace

SCHEME = "scrypt"
# 2**15 * 8 * 128 bytes = 32 MiB and about 0.1 s per try on a small machine.
COST_N = 2**15
BLOCK_R = 8
PARALLEL_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# What a line may ask for at most: a file cannot make each login cost a gigabyte.
_MAX_MEMORY = 256 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
NAME_RULE = "1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class HashError(ValueError):
    """A stored hash this module cannot use, with the reason."""


def valid_name(name: str) -> bool:
    """A user name fit for logs, the history's ``by`` and the team's lines."""
    return _NAME.fullmatch(name) is not None


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if any(character in password for character in "\r\n\0"):
        return "a password cannot hold a line break or NUL"
    return None


@dataclass(frozen=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def text(self) -> str:
        cost = [str(self.n), str(self.r), str(self.p)]
        return "$".join([SCHEME, *cost, _b64(self.salt), _b64(self.key)])

    def derive(self, password: str, length: int) -> bytes:
        """The key ``password`` makes with this hash's salt and cost."""
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=self.salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=_MAX_MEMORY + 2**20,
            dklen=length,
        )

    def matches(self, password: str) -> bool:
        """Whether ``password`` makes this key (compared in constant time)."""
        return hmac.compare_digest(self.derive(password, len(self.key)), self.key)


def hash_password(password: str) -> ScryptHash:
    """A new hash of ``password`` with a fresh random salt."""
    fresh = ScryptHash(COST_N, BLOCK_R, PARALLEL_P, secrets.token_bytes(SALT_BYTES), b"")
    return replace(fresh, key=fresh.derive(password, KEY_BYTES))


def parse_hash(text: str) -> ScryptHash:
    """The hash stored as ``text``; HashError says what is wrong with it."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise HashError(f"the hash must read {SCHEME}$N$r$p$SALT$KEY")
    if not all(part.isdigit() and len(part) <= 8 for part in parts[1:4]):
        raise HashError("N, r and p must be whole numbers")
    n, r, p = (int(part) for part in parts[1:4])
    if n < 2**14 or n & (n - 1):
        raise HashError("N must be a power of 2, at least 16384")
    if not 1 <= r <= 32 or not 1 <= p <= 16:
        raise HashError("r must be 1 to 32 and p 1 to 16")
    if 128 * n * r > _MAX_MEMORY:
        raise HashError("N and r ask for more than 256 MiB per login")
    salt, key = _unb64(parts[4]), _unb64(parts[5])
    if salt is None or key is None:
        raise HashError("salt and key must be URL-safe base64")
    if len(salt) < SALT_BYTES or not 16 <= len(key) <= 64:
        raise HashError(f"the salt needs {SALT_BYTES} bytes or more, the key 16 to 64")
    return ScryptHash(n, r, p, salt, key)


# Checked when a name is unknown, so a wrong name takes as long as a wrong password.
DECOY = ScryptHash(COST_N, BLOCK_R, PARALLEL_P, b"\0" * SALT_BYTES, b"\0" * KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
