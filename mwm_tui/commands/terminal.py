"""Where the dashboard is drawn: a terminal, or a browser tab of ``mwm-tui serve``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

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
