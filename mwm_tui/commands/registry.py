"""Every ``mwm-tui`` command: its name, a line on what it does, and where it lives.

``cli.py`` routes by this table, the top-level ``--help`` lists it, and the completion
scripts and the man page are made from the parsers it names. A new command is one entry.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast


@dataclass(frozen=True)
class Command:
    """A subcommand: ``main(argv)`` runs it, ``parser()`` describes it; both "module:name",
    imported only when used (each command loads only what it needs)."""

    name: str
    summary: str
    main: str
    parser: str

    def runner(self) -> Callable[[Sequence[str]], int]:
        return cast(Callable[[Sequence[str]], int], _load(self.main))

    def make_parser(self) -> argparse.ArgumentParser:
        return cast(argparse.ArgumentParser, _load(self.parser)())


def _load(where: str) -> Any:
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


# The dashboard runs when no command is named; it is listed first, as "(none)".
DASHBOARD = Command(
    "",
    "the live dashboard in this terminal (the default)",
    "mwm_tui.commands.dashboard:dashboard_main",
    "mwm_tui.commands.options:parser",
)
COMMANDS: tuple[Command, ...] = (
    Command(
        "history",
        "what HQ recorded: orders, alerts, statuses, wills, links, claims, notes",
        "mwm_tui.commands.history:history_main",
        "mwm_tui.commands.history:history_parser",
    ),
    Command(
        "replay",
        "play a --record file back in the dashboard; nothing is sent",
        "mwm_tui.commands.replay:replay_main",
        "mwm_tui.commands.replay:replay_parser",
    ),
    Command(
        "export",
        "the positions in a --record file as CSV, GPX or GeoJSON",
        "mwm_tui.commands.export:export_main",
        "mwm_tui.commands.export:export_parser",
    ),
    Command(
        "serve",
        "the dashboard in web browsers, one per tab",
        "mwm_tui.commands.serve:serve_main",
        "mwm_tui.commands.serve:serve_parser",
    ),
    Command(
        "users",
        "who may log in to serve's seats: users add NAME --users FILE",
        "mwm_tui.commands.users:users_main",
        "mwm_tui.commands.users:users_parser",
    ),
    Command(
        "brokers",
        "locked-down broker configurations for a fleet: brokers config --devices FILE",
        "mwm_tui.commands.brokers:brokers_main",
        "mwm_tui.commands.brokers:brokers_parser",
    ),
    Command(
        "config",
        "the settings in effect and where each came from",
        "mwm_tui.commands.show_config:config_main",
        "mwm_tui.commands.show_config:config_parser",
    ),
    Command(
        "completion",
        "a shell completion script: bash, zsh or fish",
        "mwm_tui.commands.completion:completion_main",
        "mwm_tui.commands.completion:completion_parser",
    ),
    Command(
        "man",
        "this program's manual page, in roff (man -l <(mwm-tui man))",
        "mwm_tui.commands.manual:man_main",
        "mwm_tui.commands.manual:man_parser",
    ),
)


def command_named(name: str) -> Command | None:
    return next((command for command in COMMANDS if command.name == name), None)


def commands_help() -> str:
    """The commands as the top-level ``--help`` lists them, a line each."""
    width = max(len(command.name) for command in COMMANDS) + 2
    lines = ["commands (mwm-tui COMMAND --help tells more):"]
    lines.append(f"  {'(none)':<{width}}{DASHBOARD.summary}")
    lines += [f"  {command.name:<{width}}{command.summary}" for command in COMMANDS]
    return "\n".join(lines) + "\n"


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a mistyped ``word``, if one is close enough to be meant."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None
