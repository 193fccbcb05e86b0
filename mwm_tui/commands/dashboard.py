"""``mwm-tui``: the dashboard itself, in a terminal or in a browser tab of ``mwm-tui serve``."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mwm_tui.adapters.heap import tune_malloc
from mwm_tui.adapters.lifetime import end_with_parent
from mwm_tui.adapters.recording import Recorder, RecordError
from mwm_tui.adapters.store import StoreError
from mwm_tui.adapters.tls import TlsSetupError
from mwm_tui.commands.options import settings_from
from mwm_tui.commands.terminal import (
    NO_TERMINAL,
    SERVER_PID,
    has_terminal,
    in_browser,
    seat_name,
)
from mwm_tui.config import ConfigError, Settings
from mwm_tui.domain.overlay import OverlayError
from mwm_tui.domain.targets import TargetError


def open_recorder(settings: Settings) -> Recorder | None:
    """The ``--record`` writer, or None; raises RecordError when the file cannot be opened."""
    if not settings.record:
        return None
    max_bytes = int(settings.record_max_mb * 1024 * 1024)
    path = Path(settings.record).expanduser()
    return Recorder(
        path, max_bytes=max_bytes, keep=settings.record_keep, append=settings.record_append
    )


def _fail(message: str) -> int:
    print(f"mwm-tui: error: {message}", file=sys.stderr)
    if in_browser():
        from mwm_tui.ui.notice import StartupNotice  # noqa: PLC0415

        StartupNotice(f"mwm-tui: {message}").run()
    return 2


def dashboard_main(arguments: Sequence[str]) -> int:
    """Run the dashboard with these options until it quits; the exit status."""
    try:
        settings = settings_from(arguments)
    except (ConfigError, TargetError, TlsSetupError) as error:
        return _fail(str(error))
    if settings.log_file:
        try:
            logging.basicConfig(
                filename=settings.log_file,
                level=logging.INFO,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
        except OSError as error:
            return _fail(f"cannot write the log file: {error}")
    tune_malloc()
    try:
        recorder = open_recorder(settings)
    except RecordError as error:
        return _fail(str(error))
    try:
        if not has_terminal():
            print(f"mwm-tui: error: {NO_TERMINAL}", file=sys.stderr)
            return 2
        server = os.environ.get(SERVER_PID, "")
        if in_browser() and server.isdigit():
            end_with_parent(int(server))
        # The UI is loaded only now: help, a bad option or no terminal answer at once.
        from mwm_tui.composition import create_app  # noqa: PLC0415

        try:
            app = create_app(settings, recorder=recorder, dispatcher_name=seat_name())
        except (StoreError, OverlayError) as error:
            return _fail(str(error))
        app.run()
    finally:
        if recorder is not None:
            recorder.close()
    return 0
