"""Times given on the command line: an ISO date and time, or an age such as 2h."""

from __future__ import annotations

import re
from datetime import datetime

from mwm_tui.config import ConfigError

TIME_HELP = """\
TIME is an ISO date or date and time in local time (2026-11-30, 2026-11-30T14:05)
or an age such as 90s, 30m, 2h, 7d.
"""
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float, flag: str = "--since") -> float:
    """An ISO date/time (local time unless it says otherwise) or an age like 2h; epoch seconds."""
    age = _AGE.match(text)
    if age:
        return now - float(age.group(1)) * _UNIT[age.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: not a date/time (2026-11-30T14:05) or age (2h)"
        ) from None
