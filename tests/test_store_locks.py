"""SQLite's own locks on the team's database hold for as long as a dashboard has it open.

SQLite's locks are POSIX locks, which a process loses on a file when it closes *any*
descriptor of that file. Had opening the store dropped them, the next dashboard to open the
database would take its shared memory for abandoned and reset it under the others (SIGBUS).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mwm_tui.adapters.store import DATABASE_NAME, HistoryEntry, Store

# SQLite's "in use" lock on the wal-index: a read lock on byte 128 of the -shm file while any
# connection has the database open (https://www.sqlite.org/walformat.html).
DMS_BYTE = 128
PROBE = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR)\n"
    "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))\n"
)


def unused_in_another_process(shm: Path) -> bool:
    """Another process could take the wal-index as nobody's, as SQLite would at its open."""
    probe = [sys.executable, "-c", PROBE, str(shm), str(DMS_BYTE)]
    return subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0


def test_opening_the_store_keeps_the_locks_sqlite_holds(tmp_path: Path) -> None:
    shm = tmp_path / f"{DATABASE_NAME}-shm"
    first = Store.open(tmp_path)
    try:
        first.save(history=[HistoryEntry(time.time(), "link", "STOMP link up")])
        assert shm.is_file()
        assert not unused_in_another_process(shm)
        # A second dashboard in the same process (as tests run two) keeps the first's locks too.
        second = Store.open(tmp_path)
        try:
            assert not unused_in_another_process(shm)
        finally:
            second.close()
        assert not unused_in_another_process(shm)
    finally:
        first.close()


def test_the_lock_probe_sees_a_database_nobody_has_open(tmp_path: Path) -> None:
    shm = tmp_path / f"{DATABASE_NAME}-shm"
    shm.write_bytes(b"")
    assert unused_in_another_process(shm)
