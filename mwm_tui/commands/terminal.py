"""Where the dashboard is drawn: a terminal, or a browser tab of ``mwm-tui serve``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from mwm_tui.adapters.lifetime import is_serve_process
from mwm_tui.domain.passwords import valid_name

NO_TERMINAL = "no terminal (stdin/stdout not a TTY); run it in a terminal or over ssh -t"


def has_terminal(environ: Mapping[str, str] = os.environ) -> bool:
    """A TTY on stdin and stdout, or a Textual driver named by the environment (browser mode)."""
    if environ.get("TEXTUAL_DRIVER"):
        return True  # textual-serve and textual-web run the app without a terminal
    return sys.stdin.isatty() and sys.stdout.isatty()


def in_browser(environ: Mapping[str, str] = os.environ) -> bool:
    """Run by textual-serve (or textual-web): the screen is a browser tab, stderr the server's."""
    return "web_driver" in environ.get("TEXTUAL_DRIVER", "")


# Set by ``mwm-tui serve`` for its tabs' dashboards, which end when it does.
SERVER_PID = "MWM_SERVE_PID"
# Set by ``mwm-tui serve --users`` for a tab's dashboard: the person logged in at that seat.
SEAT_NAME = "MWM_SERVE_SEAT"


def seat_name(environ: Mapping[str, str] = os.environ) -> str | None:
    """The person ``mwm-tui serve`` logged this browser tab in as, or None.

    Honoured only in a browser tab whose parent process is the ``mwm-tui serve`` that
    MWM_SERVE_PID names, run by the same account: a dashboard started any other way (in a
    terminal, with whatever variables) signs as its Unix account, as the operating system says.
    """
    name, server = environ.get(SEAT_NAME), environ.get(SERVER_PID, "")
    if not name or not valid_name(name) or not in_browser(environ) or not server.isdigit():
        return None
    if int(server) != os.getppid() or not is_serve_process(int(server)):
        return None
    return name
