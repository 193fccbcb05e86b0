"""The users file of ``mwm-tui serve``: one ``NAME:HASH`` line per person (``#`` comments).

It holds password hashes, so it is written 0600 and read only when it is not too large.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mwm_tui.domain.passwords import (
    NAME_RULE,
    HashError,
    ScryptHash,
    parse_hash,
    valid_name,
)

MAX_BYTES = 256 * 1024
MAX_USERS = 1000


class UsersFileError(Exception):
    """A users file that cannot be used, in one line naming the file (and the line)."""


def load_users(path: Path) -> dict[str, ScryptHash]:
    """Every user of ``path`` with their hash; UsersFileError on the first problem."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise UsersFileError(f"users file {path}: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise UsersFileError(f"users file {path}: larger than {MAX_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsersFileError(f"users file {path}: not UTF-8 text") from None
    users: dict[str, ScryptHash] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"users file {path} line {number}"
        name, colon, stored = entry.partition(":")
        if not colon:
            raise UsersFileError(f"{where}: expected NAME:HASH (made by mwm-tui users add)")
        if not valid_name(name):
            raise UsersFileError(f"{where}: the name must be {NAME_RULE}")
        if name in users:
            raise UsersFileError(f"{where}: {name} is already on an earlier line")
        try:
            users[name] = parse_hash(stored)
        except HashError as error:
            raise UsersFileError(f"{where}: {error}") from None
        if len(users) > MAX_USERS:
            raise UsersFileError(f"{where}: more than {MAX_USERS} users")
    if not users:
        raise UsersFileError(f"users file {path}: no users (add one: mwm-tui users add NAME)")
    return users


def store_user(path: Path, name: str, stored: ScryptHash) -> bool:
    """Write ``name``'s line into ``path`` (made 0600 if new), in place of an older one.

    The file is replaced whole, so a reader never sees half of it. True if the name was new.
    """
    lines: list[str] = []
    if path.exists():
        load_users(path)  # refuse to rewrite a file that is already wrong
        lines = path.read_text(encoding="utf-8").splitlines()
    entry = f"{name}:{stored.text()}"
    kept = [line for line in lines if line.strip().partition(":")[0] != name]
    added = len(kept) == len(lines)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:  # mkstemp makes it 0600
            stream.write("\n".join([*kept, entry]) + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return added
