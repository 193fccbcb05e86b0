"""The command line run in the test's own process, read as a shell reads a finished command.

For what `mwm-tui` prints and the status it ends with; tests about the process itself (a
terminal, signals, pipes, the installed scripts) start a real one instead.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mwm_tui.cli import main


@dataclass(frozen=True)
class Finished:
    """What a shell would see of one `mwm-tui` run: exit status, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


def run_main(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str = "",
) -> Finished:
    """``mwm-tui ARGS`` in this process with ``env`` added to the environment, no user config
    (unless ``env`` names one), help wrapped as in a pipe, ``stdin`` as standard input (not a
    terminal); exits are read as exit statuses."""
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    if "COLUMNS" not in os.environ:
        monkeypatch.setenv("COLUMNS", "80")  # what argparse wraps to when stdout is no terminal
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    try:
        status = main(list(args))
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    out, err = capsys.readouterr()
    return Finished(status, out, err)


RunCli = Callable[..., Finished]
