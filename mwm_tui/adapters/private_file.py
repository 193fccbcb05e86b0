"""Files HQ writes for the operator (``--record``, ``export -o``): the owner's alone, never
another's file, never through a symbolic link.

A new file is created exclusively (``O_EXCL``), mode 0600 whatever the umask. An existing one
is taken only when the operator says so (``append`` or ``replace``); it must then not be a
link, and a regular file must be this user's, and is made 0600. ``O_NOFOLLOW`` everywhere: a
link planted at the name is refused, not followed.
"""

from __future__ import annotations

import errno
import os
import stat
from enum import StrEnum
from pathlib import Path

__all__ = ["Existing", "open_private"]

_WRITE = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class Existing(StrEnum):
    """What to do with a file already at the name."""

    REFUSE = "refuse"
    APPEND = "append"
    REPLACE = "replace"


def open_private(path: Path, existing: Existing = Existing.REFUSE) -> int:
    """A descriptor open for writing (appending with APPEND) on ``path``, the owner's alone.

    Raises OSError: FileExistsError for a file HQ may not take, and an OSError whose
    ``strerror`` says why for a symbolic link or another user's file.
    """
    append = os.O_APPEND if existing is Existing.APPEND else 0
    try:
        return os.open(path, _WRITE | append | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.is_symlink():
            raise OSError(errno.ELOOP, "it is a symbolic link, which HQ never follows") from None
        if existing is Existing.REFUSE:
            raise
    # O_NONBLOCK: a FIFO with no reader is an error, not a hang; cleared once open.
    try:
        descriptor = os.open(path, _WRITE | append | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it is a symbolic link, which HQ never follows") from None
        raise
    try:
        os.set_blocking(descriptor, True)
        _make_private(descriptor, truncate=existing is Existing.REPLACE)
    except OSError:
        os.close(descriptor)
        raise
    return descriptor


def _make_private(descriptor: int, *, truncate: bool) -> None:
    """A regular file of this user, made 0600 (and emptied with ``truncate``); a device as is."""
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        return  # /dev/null and the like: nothing to keep private
    if status.st_uid != os.geteuid():
        raise OSError(errno.EPERM, "it belongs to another user")
    if stat.S_IMODE(status.st_mode) != 0o600:
        os.fchmod(descriptor, 0o600)
    if truncate:
        os.ftruncate(descriptor, 0)
