"""Who is dispatching comes from the operating system, never from the environment."""

from __future__ import annotations

import os
import pwd

import pytest

from mwm_tui.adapters.identity import unix_account


def test_the_dispatcher_is_the_unix_account_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    assert unix_account() == pwd.getpwuid(os.getuid()).pw_name != "mallory"


def test_a_uid_without_an_account_is_named_by_its_number() -> None:
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    free = next(uid for uid in range(60000, 65000) if uid not in taken)
    assert unix_account(free) == f"uid {free}"
