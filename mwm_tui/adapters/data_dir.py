"""The data directory and the files mwm-tui keeps there, and who may read them.

Two kinds, told apart by the directory's own mode:

- private (the default): the directory is ``0700`` and every file ``0600``;
- a team's: a directory the team's Unix group owns with setgid and group ``rwx`` (``2770``);
  every file is ``0660``, so each dispatcher of the group reads and writes it, nobody else.

Modes are set on the open file, not left to the umask. A world-writable directory is refused
with the fix in one line: anyone could swap the database under the team.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
TEAM_FILE_MODE = 0o660


class DataDirError(OSError):
    """The data directory cannot be used as it is; the message says how to fix it."""


class Sharing(StrEnum):
    PRIVATE = "private"
    TEAM = "team"


@dataclass(frozen=True, slots=True)
class DataDir:
    path: Path
    sharing: Sharing
    group: int

    @property
    def file_mode(self) -> int:
        return TEAM_FILE_MODE if self.sharing is Sharing.TEAM else PRIVATE_FILE_MODE

    def create(self, name: str) -> Path:
        """``name`` in the directory, created if missing, with this directory's file mode."""
        path = self.path / name
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(path, flags, self.file_mode)
        try:
            self.settle(descriptor)
        finally:
            os.close(descriptor)
        return path

    def settle(self, descriptor: int) -> None:
        """Give an open file of ours this directory's mode (the umask may have narrowed it)."""
        info = os.fstat(descriptor)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != self.file_mode:
            os.fchmod(descriptor, self.file_mode)

    def settle_existing(self, *names: str) -> None:
        """Bring files an earlier run left (a database and its WAL) to this directory's mode.

        A file already right is left unopened: closing any descriptor of a file drops every
        POSIX lock this process holds on it, those of its open SQLite connections included.
        """
        for name in names:
            try:
                if stat.S_IMODE(os.lstat(self.path / name).st_mode) == self.file_mode:
                    continue
                descriptor = os.open(self.path / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                self.settle(descriptor)
            finally:
                os.close(descriptor)


def prepare(path: Path) -> DataDir:
    """Create ``path`` as a private directory if missing; say what kind it is, or refuse it."""
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
        os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise DataDirError(f"{path} is not a directory")
    mode = stat.S_IMODE(info.st_mode)
    if mode & stat.S_IWOTH:
        raise DataDirError(
            f"{path} is writable by every user of this machine; make it the team's: "
            f"chgrp TEAM {path} && chmod 2770 {path}"
        )
    group_shares = mode & stat.S_IRWXG == stat.S_IRWXG
    if group_shares and not mode & stat.S_ISGID:
        raise DataDirError(
            f"{path} is the group's but not setgid, so files would take each dispatcher's own "
            f"group: chmod g+s {path}"
        )
    if group_shares:
        return DataDir(path, Sharing.TEAM, info.st_gid)
    if info.st_uid == os.geteuid() and mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, PRIVATE_DIR_MODE)  # ours and private: nobody else reads the history
    return DataDir(path, Sharing.PRIVATE, info.st_gid)
