"""``mwm-tui man``: the manual page, in roff, made from the parsers of every command.

The wheel ships the same page as ``share/man/man1/mwm-tui.1`` (``docs/mwm-tui.1``; a test
holds it equal to this output), so ``man mwm-tui`` reads it once the venv's bin is on PATH.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from mwm_tui import __version__
from mwm_tui.commands.parsing import TeachingParser
from mwm_tui.commands.registry import COMMANDS, DASHBOARD, Command

# What the help texts say for this machine's paths, written for every machine.
_CONFIG_FILE = "$XDG_CONFIG_HOME/mwm-tui/config.toml"
_CONFIG_PATH = re.compile(r"[^\s'\"]*/mwm-tui/config\.toml")


def man_parser() -> argparse.ArgumentParser:
    return TeachingParser(
        prog="mwm-tui man",
        description="Print mwm-tui's manual page (roff). Read it with: mwm-tui man | man -l -",
    )


def _roff(text: str) -> str:
    """Plain text as roff: backslashes and dashes escaped, no line read as a request."""
    escaped = _CONFIG_PATH.sub(_CONFIG_FILE, text)
    escaped = escaped.replace("\\", "\\e").replace("-", "\\-")
    lines = [f"\\&{line}" if line[:1] in (".", "'") else line for line in escaped.splitlines()]
    return "\n".join(lines)


def _block(text: str | None) -> list[str]:
    """A help paragraph kept as written (its line breaks and indents mean something)."""
    if not text or not text.strip():
        return []
    return [".nf", _roff(text.strip("\n")), ".fi"]


def _option(action: argparse.Action) -> list[str]:
    names = ", ".join(f"\\fB{_roff(name)}\\fR" for name in action.option_strings)
    if action.nargs != 0:
        value = action.metavar or (action.dest.upper() if not action.choices else None)
        if action.choices and not action.metavar:
            value = "{" + ",".join(str(choice) for choice in action.choices) + "}"
        names += f" \\fI{_roff(str(value))}\\fR"
    return [".TP", names, _roff(" ".join((action.help or "").split()))]


def _positional(action: argparse.Action) -> list[str]:
    name = action.metavar or action.dest
    text = " ".join((action.help or "").split())
    if action.choices:
        text += f" (one of: {', '.join(str(choice) for choice in action.choices)})"
    return [".TP", f"\\fI{_roff(str(name))}\\fR", _roff(text)]


def _arguments(parse: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parse._actions:  # argparse keeps no public list of them
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        lines += _option(action) if action.option_strings else _positional(action)
    return lines


def _command_section(command: Command) -> list[str]:
    parse = command.make_parser()
    title = f"MWM-TUI {command.name.upper()}" if command.name else "THE DASHBOARD (NO COMMAND)"
    return [
        f'.SH "{title}"',
        f"\\fB{_roff(parse.prog)}\\fR \\(em {_roff(command.summary)}",
        ".PP",
        *_block(parse.description if command.name else None),
        *_arguments(parse),
        *([".PP", *_block(parse.epilog)] if parse.epilog else []),
    ]


def man_page() -> str:
    """The whole page: synopsis, the commands, then each command's options and notes."""
    dashboard = DASHBOARD.make_parser()
    lines = [
        f'.TH MWM-TUI 1 "" "mwm-tui {__version__}" "User Commands"',
        ".SH NAME",
        "mwm\\-tui \\- a terminal dashboard for a truck fleet's headquarters",
        ".SH SYNOPSIS",
        ".B mwm\\-tui",
        "[\\fIOPTIONS\\fR]",
        ".br",
        ".B mwm\\-tui",
        "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        *_block((dashboard.description or "").split("\n\n")[0]),
        ".SH COMMANDS",
    ]
    for command in COMMANDS:
        lines += [".TP", f"\\fB{command.name}\\fR", _roff(command.summary)]
    for command in (DASHBOARD, *COMMANDS):
        lines += _command_section(command)
    lines += [
        ".SH FILES",
        ".TP",
        f"\\fI{_roff(_CONFIG_FILE)}\\fR",
        "settings (TOML), or the file named by \\fBMWM_CONFIG\\fR",
        ".TP",
        "\\fI$XDG_DATA_HOME/mwm\\-tui/\\fR",
        "the outbox and the history (SQLite), or \\fB\\-\\-data\\-dir\\fR",
        ".SH SEE ALSO",
        "\\fBmwm\\-sim\\fR(1) \\(em \\fBmwm\\-sim \\-\\-help\\fR",
    ]
    return "\n".join(lines) + "\n"


def man_main(argv: Sequence[str]) -> int:
    man_parser().parse_args(argv)
    sys.stdout.write(man_page())
    return 0
