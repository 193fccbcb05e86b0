"""The C heap of a dashboard that runs for days: glibc's malloc set against fragmentation.

Measured here at 1,000 trucks at 1 Hz: with glibc's defaults RSS rose 2.2 MB from minute 1 to
8, in a link thread's own arena left full of holes by its 64 KiB socket reads; with both
settings below, 0.1-0.2 MB (benchmarks/RESULTS.md, section 8). The links have since read into
buffers they keep (socket_reads.py); these settings stay for every other thread's blocks.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

# mallopt's parameter numbers, from glibc's <malloc.h>.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# One arena for every thread: the GIL already takes turns for Python's allocations.
ARENA_MAX = 1
# A block this large is mapped on its own and goes back whole when freed.
MMAP_THRESHOLD = 64 * 1024
# An operator's own malloc settings win over ours.
OPERATOR_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")


def tune_malloc(environ: Mapping[str, str] = os.environ) -> bool:
    """Set glibc's malloc for a long run, before the link threads start; whether it was set.

    Nothing is changed under another C library, or when the environment already tunes malloc.
    """
    if any(name in environ for name in OPERATOR_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, ARENA_MAX)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
