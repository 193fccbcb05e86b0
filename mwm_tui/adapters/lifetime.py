"""A browser tab's dashboard ends with the server that started it, however that server ends."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int) -> bool:
    """Ask the kernel for SIGTERM when ``parent_pid`` (our parent) dies; True if it will.

    Without it a killed ``mwm-tui serve`` would leave its tabs' dashboards running, holding
    the outbox and their broker sessions. If the parent is already gone, end now.
    """
    if sys.platform != "linux":
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)  # it died before the request was in place
    return True


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc; none elsewhere)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listing:
                found += [int(child) for child in listing.read().split()]
        except OSError:
            continue
    return found


def has_ended(pid: int) -> bool:
    """True once ``pid`` is gone or a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def is_serve_process(pid: int) -> bool:
    """True if ``pid`` runs ``mwm-tui serve`` (its command line, Linux /proc) as our account."""
    try:
        owner = os.stat(f"/proc/{pid}").st_uid
        with open(f"/proc/{pid}/cmdline", "rb") as listing:
            argv = listing.read().split(b"\0")
    except OSError:
        return False
    if owner != os.getuid():
        return False
    for index, argument in enumerate(argv[:-1]):
        program = argument.rsplit(b"/", 1)[-1]
        if program in (b"mwm-tui", b"mwm_tui.cli") and argv[index + 1] == b"serve":
            return True
    return False
