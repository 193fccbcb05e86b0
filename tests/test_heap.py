"""glibc's malloc as the dashboard sets it: one arena for all threads, large blocks mapped apart.

Each case runs in a fresh interpreter, since malloc's settings last for the life of a process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mwm_tui.adapters.heap import OPERATOR_SETTINGS

# Reports whether malloc was tuned, how many arenas exist once a second thread has allocated,
# and whether 100 kB blocks (under glibc's default 128 KiB threshold) were mapped on their own:
# once the heap's free space is used up, at least half of forty.
PROBE = """
import ctypes, json, os, sys, threading
from mwm_tui.adapters.heap import tune_malloc

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)

tuned = tune_malloc(json.loads(sys.argv[2])) if sys.argv[3] == "tune" else False
mapped_before = libc.mallinfo2().hblks
blocks = [bytes(100_000) for _ in range(40)]
mapped_grew = libc.mallinfo2().hblks - mapped_before >= 20

allocated, done = threading.Event(), threading.Event()
def allocate():
    kept = [bytearray(4096) for _ in range(16)]
    allocated.set()
    done.wait()
thread = threading.Thread(target=allocate)
thread.start()
allocated.wait()
stream = libc.fopen(sys.argv[1].encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
done.set()
thread.join()
heaps = open(sys.argv[1]).read().count("<heap nr=")
print(json.dumps({"tuned": tuned, "heaps": heaps, "mapped_grew": mapped_grew}))
"""


def probe(tmp_path: Path, environ: dict[str, str] | None) -> dict[str, object]:
    """Run PROBE; ``environ`` None leaves malloc at glibc's defaults."""
    finished = subprocess.run(
        [
            *(sys.executable, "-c", PROBE, str(tmp_path / "malloc.xml")),
            *(json.dumps(environ or {}), "defaults" if environ is None else "tune"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(finished.stdout)
    return result


def test_glibc_defaults_give_a_thread_its_own_arena_and_keep_100_kb_in_the_heap(
    tmp_path: Path,
) -> None:
    # The baseline the other cases are measured against: this glibc behaves as documented.
    assert probe(tmp_path, None) == {"tuned": False, "heaps": 2, "mapped_grew": False}


def test_tuned_malloc_shares_one_arena_and_maps_large_blocks_apart(tmp_path: Path) -> None:
    assert probe(tmp_path, {}) == {"tuned": True, "heaps": 1, "mapped_grew": True}


@pytest.mark.parametrize("name", OPERATOR_SETTINGS)
def test_an_operators_own_malloc_setting_is_left_alone(tmp_path: Path, name: str) -> None:
    assert probe(tmp_path, {name: "2"}) == {"tuned": False, "heaps": 2, "mapped_grew": False}
