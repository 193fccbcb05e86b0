"""Who may read and write HQ's files: a private directory, or a team's, whatever the umask."""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mwm_tui.adapters.data_dir import Sharing, prepare
from mwm_tui.adapters.store import DATABASE_NAME, LOCK_NAME, HistoryEntry, Store, StoreError

FILES = (DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm", LOCK_NAME)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000, 0o077], ids=["umask-022", "umask-000", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def write_something(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Each file's mode and group while the dashboard runs (SQLite removes its WAL on close)."""
    store = Store.open(data_dir)
    try:
        store.save(history=[HistoryEntry(1.0, "link", "STOMP link up")])
        found = {name: os.stat(data_dir / name) for name in FILES}
    finally:
        store.close()
    return {name: (stat.S_IMODE(info.st_mode), info.st_gid) for name, info in found.items()}


def test_a_private_data_directory_is_0700_and_its_files_0600(tmp_path: Path, umask: int) -> None:
    data_dir = tmp_path / "xdg" / "mwm-tui"
    modes = {name: file_mode for name, (file_mode, _) in write_something(data_dir).items()}
    assert modes == dict.fromkeys(FILES, 0o600)
    assert mode(data_dir) == 0o700


def test_a_team_directory_gives_its_group_every_file_and_nobody_else(
    tmp_path: Path, umask: int
) -> None:
    team = grp.getgrnam("users").gr_gid if "users" in {g.gr_name for g in grp.getgrall()} else 1
    data_dir = tmp_path / "team"
    data_dir.mkdir()
    os.chown(data_dir, -1, team)
    os.chmod(data_dir, 0o2770)
    assert prepare(data_dir).sharing is Sharing.TEAM
    assert write_something(data_dir) == dict.fromkeys(FILES, (0o660, team))
    assert mode(data_dir) == 0o2770


def test_files_an_earlier_version_left_readable_by_all_are_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_something(data_dir)
    left = [name for name in FILES if (data_dir / name).exists()]
    assert DATABASE_NAME in left
    for name in left:
        os.chmod(data_dir / name, 0o644)
    modes = {name: file_mode for name, (file_mode, _) in write_something(data_dir).items()}
    assert modes == dict.fromkeys(FILES, 0o600)


def test_a_world_writable_directory_is_refused_with_the_fix(tmp_path: Path) -> None:
    data_dir = tmp_path / "open"
    data_dir.mkdir()
    os.chmod(data_dir, 0o777)
    with pytest.raises(StoreError, match=r"writable by every user.*chmod 2770"):
        Store.open(data_dir)
    assert not (data_dir / DATABASE_NAME).exists()


def test_a_group_directory_without_setgid_is_refused_with_the_fix(tmp_path: Path) -> None:
    data_dir = tmp_path / "group"
    data_dir.mkdir()
    os.chmod(data_dir, 0o770)
    with pytest.raises(StoreError, match=r"not setgid.*chmod g\+s"):
        Store.open(data_dir)


def test_a_symlink_in_place_of_the_database_is_not_followed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("not a database")
    (data_dir / DATABASE_NAME).symlink_to(elsewhere)
    with pytest.raises(StoreError, match="cannot open"):
        Store.open(data_dir)
    assert elsewhere.read_text() == "not a database"
